package main

import (
	"context"
	"errors"
	"io"
)

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	return errors.New("serve: not yet")
}
