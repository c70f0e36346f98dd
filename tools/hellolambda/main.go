// Command hellolambda is the smallest aws-lambda-go function: it answers
// every event with the event itself. It is the cold-start and binary-size
// floor that tools/bench compares the Lambda bootstrap with, built with the
// same flags (CGO_ENABLED=0 -tags lambda.norpc -trimpath -ldflags='-s -w').
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil })
}
