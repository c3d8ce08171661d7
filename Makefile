GO ?= go

.PHONY: run test deps build vet bench fuzz

# Start Switchboard on its embedded defaults (127.0.0.1:8080, admin 127.0.0.1:9090).
run:
	$(GO) run ./cmd/switchboard

build:
	$(GO) build -o bin/switchboard ./cmd/switchboard

deps:
	./scripts/deps.sh

vet:
	$(GO) vet ./...

# The whole test suite (what CI runs): installs its npm and Debian needs first.
test: deps vet
	$(GO) test -race -count=1 -timeout 14m ./...
