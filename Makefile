GO ?= go

.PHONY: run test deps build vet lint

# Start Switchboard on its embedded defaults (127.0.0.1:8080, admin 127.0.0.1:9090).
run:
	$(GO) run ./cmd/switchboard

build:
	$(GO) build -o bin/switchboard ./cmd/switchboard

deps:
	./scripts/deps.sh

vet:
	$(GO) vet ./...
	# The SDK (and a backend built on it) and the binary must build beyond Linux and amd64.
	GOOS=windows $(GO) build ./client/ ./examples/go-chat ./cmd/switchboard
	GOOS=darwin $(GO) build ./client/ ./examples/go-chat ./cmd/switchboard
	GOARCH=386 $(GO) build ./client/ ./examples/go-chat ./cmd/switchboard
	# Raw system calls differ by architecture, in the tests too.
	GOARCH=arm64 $(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }

lint:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# The whole test suite (what CI runs): installs its npm and Debian needs first.
test: deps vet lint
	$(GO) test -race -count=1 -timeout 14m ./...
