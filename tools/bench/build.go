package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// artifact is one binary built for linux/goarch.
type artifact struct {
	name, pkg, goarch string
	tags              string
	path              string
	size              int64
}

// goTool is the go command on PATH (make bench runs this tool with it, so
// the same toolchain builds everything it measures).
func goTool() string { return "go" }

// build builds a for linux as the Makefile does: CGO_ENABLED=0, -trimpath,
// -ldflags='-s -w', and the artifact's tags.
func build(root, dir string, a *artifact) error {
	a.path = filepath.Join(dir, a.goarch, a.name)
	args := []string{"build"}
	if a.tags != "" {
		args = append(args, "-tags", a.tags)
	}
	args = append(args, "-trimpath", "-ldflags=-s -w", "-o", a.path, a.pkg)
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+a.goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("GOARCH=%s go %s: %w\n%s", a.goarch, strings.Join(args, " "), err, out)
	}
	fi, err := os.Stat(a.path)
	if err != nil {
		return err
	}
	a.size = fi.Size()
	return nil
}

// moduleRoot is the directory of the go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
