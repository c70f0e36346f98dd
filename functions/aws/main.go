// Command aws is the function on AWS Lambda: the provided.al2023 bootstrap.
//
// Build: CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc
// -trimpath -ldflags='-s -w' -o bootstrap ./functions/aws (make build-aws).
//
// Everything is read once, before lambda.Start, and nothing at init touches
// the network: the configuration, where the credentials come from (an
// OIDC token from AWS STS or a key from Secrets Manager is fetched on the
// first call), the client.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/ecs-stopper/stopper/shared/awssecrets"
	"github.com/ecs-stopper/stopper/shared/awssts"
	"github.com/ecs-stopper/stopper/shared/config"
	"github.com/ecs-stopper/stopper/shared/credentials"
	"github.com/ecs-stopper/stopper/shared/notify"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/trigger"
)

func main() {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stopper:", err)
		os.Exit(1)
	}
	log := cfg.Logger(os.Stderr)
	id, err := cfg.Identity(config.IdentityOptions{NewTokenSource: webIdentityTokens(cfg), NewKeySource: secretsExtension, Log: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "stopper:", err)
		os.Exit(1)
	}
	h, err := cfg.Handler(id, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stopper:", err)
		os.Exit(1)
	}
	// CloudWatch embedded metric format on stdout: Lambda turns those lines
	// into metrics (stops, failures, matched, refused by action and region)
	// without an agent or an API call.
	h.Function.Metrics = &notify.EMF{W: os.Stdout}
	// No lambda.WithEnableSIGTERM: it registers an internal extension over
	// the network at init (slower cold starts) and there is nothing to flush
	// at shutdown: every log line is written when it happens.
	lambda.StartWithOptions(function{h: h})
}

// function is a lambda.Handler: raw event bytes in, the trigger's answer
// bytes out, with no JSON round trip in the library.
type function struct{ h *trigger.Handler }

// Invoke answers successes and permanent failures (the platform must not
// retry them) and turns transient failures into function errors whose
// errorType is the code, e.g. ServiceUnavailable (the platform retries them
// or sends them to the dead-letter queue).
func (f function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var requestID string
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		requestID = lc.AwsRequestID
	}
	res, err := f.h.Invoke(ctx, requestID, payload)
	if err != nil {
		return nil, functionError(err)
	}
	return res.Payload, nil
}

// functionError is the Lambda error a transient failure is reported as.
func functionError(err error) error {
	e := stopper.AsError(err)
	return messages.InvokeResponse_Error{Type: e.Code, Message: e.Message}
}

// webIdentityTokens is the oidc-aws token source: AWS STS
// GetWebIdentityToken, signed with the Lambda role's credentials.
func webIdentityTokens(cfg config.Config) func(audience string) (credentials.TokenSource, error) {
	return func(audience string) (credentials.TokenSource, error) {
		return awssts.New(awssts.Options{
			Audience:        audience,
			Region:          os.Getenv("AWS_REGION"),
			Endpoint:        cfg.AWSSTSEndpoint,
			AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
			SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
		})
	}
}

// secretsExtension is the secrets-manager key source: the AWS Parameters
// and Secrets Lambda Extension on this sandbox's loopback.
func secretsExtension(secretID string) (credentials.KeySource, error) {
	return awssecrets.New(awssecrets.Options{
		SecretID:     secretID,
		Port:         os.Getenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"),
		SessionToken: os.Getenv("AWS_SESSION_TOKEN"),
	})
}
