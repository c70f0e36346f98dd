# The README's two commands: `make invoke EVENT=events/<file>` and `make test`.
GO          ?= go
ARCH        ?= arm64
EVENT       ?= events/direct-stop.json
# More flags for `local invoke`, e.g. FLAGS="-stop-mode kill -cursor offset".
FLAGS       ?=
BIN         := $(CURDIR)/.bin
# The AWS Lambda Runtime Interface Emulator, pinned; the end-to-end tests run
# the real bootstrap under it.
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
# Keyed by its version: changing RIE_VERSION installs the new one.
RIE         := $(BIN)/rie-$(RIE_VERSION)/aws-lambda-rie
# golangci-lint, pinned and keyed by its version like the RIE; .golangci.yml
# says what it checks.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT         := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint
FUZZTIME    ?= 10s
BUILDFLAGS  := -trimpath -ldflags='-s -w'

.PHONY: all test vet lint invoke serve emulator build build-aws build-aliyun fuzz bench clean rie lint-deploy mutate docs

all: test

test: vet rie
	ECS_STOPPER_RIE=$(RIE) $(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l .); \
	  if [ -n "$$unformatted" ]; then echo "not gofmt-formatted: $$unformatted"; exit 1; fi
	@# No binary is tracked (git reads a file with a NUL byte as binary: -text).
	@binaries=$$(git ls-files --eol 2>/dev/null | awk '$$1 == "i/-text" {print $$NF}'); \
	  if [ -n "$$binaries" ]; then echo "binary files tracked by git: $$binaries"; exit 1; fi

lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	GOBIN=$(dir $(GOLANGCI_LINT)) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

rie: $(RIE)
$(RIE):
	GOBIN=$(dir $(RIE)) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

# Runs the function on a sample event against the embedded emulator.
invoke:
	@$(GO) run ./functions/local invoke -event $(EVENT) $(FLAGS)

# Serves the function as an FC custom runtime on 127.0.0.1:9000, against the embedded emulator.
serve:
	$(GO) run ./functions/local serve -addr 127.0.0.1:9000

emulator:
	$(GO) run ./functions/local emulator -addr 127.0.0.1:8080

build: build-aws build-aliyun

# Lambda: provided.al2023 wants an executable named bootstrap; arm64 unless ARCH=amd64.
build-aws:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build -tags lambda.norpc $(BUILDFLAGS) -o build/aws/bootstrap ./functions/aws
	$(GO) run ./tools/mkzip -o build/aws/bootstrap.zip build/aws/bootstrap

# FC: the go1 runtime is x86_64 only; the same binary serves custom runtimes.
build-aliyun:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build $(BUILDFLAGS) -o build/aliyun/main ./functions/aliyun
	$(GO) run ./tools/mkzip -o build/aliyun/code.zip build/aliyun/main

# sam build with BuildMethod: makefile calls this target.
build-StopperFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build -tags lambda.norpc $(BUILDFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/aws

fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

bench:
	./scripts/bench.sh

# docs/configuration.md's table of every STOPPER_* setting, from the Config
# struct's tags (a test in shared/config fails when it is out of date).
docs:
	$(GO) run ./tools/configdoc -file docs/configuration.md

# Mutation testing (go-gremlins, installed into .bin/) over the packages that
# hold the README's promises; PKGS="shared/webhook shared/acs" for some.
mutate:
	./scripts/mutate.sh $(PKGS)

# template.yaml with cfn-lint, s.yaml with Serverless Devs' own parser.
lint-deploy:
	./scripts/lint-deploy.sh

clean:
	rm -rf build .bin
