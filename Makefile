# The project's commands. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin

.PHONY: all build test test-unit test-netns test-vm vet fmt-check demo bench bench-vrrp bench-check bench-ipvs install clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/...

## test: every test: static checks, unit tests, netns tests (root) and the real-kernel VM scenarios.
test: fmt-check vet test-unit test-netns test-vm

fmt-check:
	@bad=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags 'netns testbed' ./...
	$(GO) vet -tags testbed_guest ./...

test-unit:
	$(GO) test -count=1 ./...

# Needs root: network namespaces on the host (no IPVS needed).
test-netns:
	$(GO) test -count=1 -p 1 -tags netns -run 'Netns' ./...

# Needs root and qemu: boots the Debian kernel once and runs every scenario inside.
test-vm:
	$(GO) test -count=1 -tags testbed -timeout 40m -v -run 'TestTestbed' ./e2e/

## demo: the live demo in the real-kernel testbed.
demo:
	$(GO) run ./e2e/cmd/testbed demo

## bench: benchmarks (kept out of make test). Each prints its figure and a ratio against its peer
## measured in the same run.
bench: bench-ipvs bench-check bench-vrrp

# IPVS apply of 1,000 services x 10 real servers vs ipvsadm -R, reload and restart write counts (in the VM).
bench-ipvs:
	$(GO) run ./e2e/cmd/testbed bench

# 10,000 real servers checked every second: checks/s and CPU per 10k checks, vs keepalived's checker.
bench-check:
	$(GO) run ./healthcheck/cmd/checkbench

# VRRP takeover after a link cut and a graceful stop, lbd vs keepalived, in network namespaces.
bench-vrrp:
	$(GO) run ./vrrp/cmd/vrrpbench

clean:
	rm -rf $(BIN)
