// Command configdoc writes the configuration reference's table (variable,
// default, description) from the Config struct's tags into
// docs/configuration.md, between its table markers (make docs).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ecs-stopper/stopper/shared/config"
)

func main() {
	file := flag.String("file", "docs/configuration.md", "the document whose table to regenerate")
	flag.Parse()
	if err := run(*file); err != nil {
		fmt.Fprintln(os.Stderr, "configdoc:", err)
		os.Exit(1)
	}
}

func run(file string) error {
	doc, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	out, ok := config.SpliceReference(string(doc))
	if !ok {
		return fmt.Errorf("%s has no %s ... %s lines to put the table between", file, config.ReferenceBegin, config.ReferenceEnd)
	}
	return os.WriteFile(file, []byte(out), 0o644)
}
