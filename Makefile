# The project's commands. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin
# Static binaries: they run on any director or web node and inside the testbed's initramfs.

.PHONY: all deps build test test-unit test-netns test-zookeeper test-browser test-vm vet fmt-check fuzz demo bench bench-vrrp bench-check bench-ipvs bench-rss bench-outage bench-ecmp bench-nginx bench-zookeeper soak install clean

all: build

## deps: the Debian packages the commands need, installed when missing (.ci/deps holds the one list;
## .ci/run uses it too). A no-op, without apt-get update, when everything is installed.
deps:
	@bash .ci/deps

build:
	CGO_ENABLED=0 $(GO) build -buildvcs=auto -o $(BIN)/ ./cmd/...

## test: every test: static checks, unit tests, netns tests (root), the real ZooKeeper ensemble and the
## real-kernel VM scenarios.
test: deps fmt-check vet test-unit test-netns test-zookeeper test-browser test-vm test-deb

fmt-check:
	@bad=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags 'netns testbed' ./...
	$(GO) vet -tags testbed_guest ./...
	$(GO) vet -tags zookeeper ./discovery/ ./director/daemon/
	$(GO) vet -tags 'zookeeper netns' ./cmd/lbrs/ ./internal/zklab/
	$(GO) vet -tags 'testbed_guest testbed_soak' ./e2e/scenarios/
	$(GO) vet -tags browser ./director/daemon/

test-unit:
	$(GO) test -count=1 ./...

# Needs root: network namespaces on the host (no IPVS needed).
test-netns: deps
	$(GO) test -count=1 -p 1 -tags netns -run 'Netns' ./...

# A real 3-node ZooKeeper ensemble on localhost (Debian's zookeeperd: java, the jars; no root needed),
# started by the tests themselves (internal/zklab): discovery's watcher and registrar, and lbd's daemon (on
# the fake kernel) against it, ensemble nodes killed and restarted. -p 1: one ensemble at a time. The lbrs
# tests (TestNetnsZooKeeper...) need root too: lbrs runs in a network namespace, reaching the ensemble
# through forwarders listening inside it.
test-zookeeper: deps
	$(GO) test -count=1 -p 1 -tags zookeeper -run 'ZooKeeper' ./discovery/ ./director/daemon/ ./internal/zklab/
	$(GO) test -count=1 -p 1 -tags 'zookeeper netns' -run 'NetnsZooKeeper' ./cmd/lbrs/

# The status page in a real browser: Debian's chromium, headless, driven by chromedp against lbd run
# in-process on the fake kernel (no root needed; as root chromium runs with --no-sandbox).
test-browser: deps
	$(GO) test -count=1 -tags browser -run 'TestBrowser' -v ./director/daemon/

# Needs root and qemu: boots the Debian kernel once and runs every scenario inside.
test-vm: deps
	$(GO) test -count=1 -tags testbed -timeout 40m -v -run 'TestTestbed' ./e2e/

## fuzz: every fuzz target for FUZZTIME each (outside make test). -fuzzminimizetime 1x: without it
## a target of the config parsers spends its minute minimizing (6-10 execs in 60 s, not ~250,000).
FUZZTIME ?= 60s
fuzz:
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for f in $$(grep -h '^func Fuzz' $$dir/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "== $$dir $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1x $$dir; \
		done; \
	done

## demo: the live demo in the real-kernel testbed.
demo: deps
	$(GO) run ./e2e/cmd/testbed demo

## bench: benchmarks (kept out of make test). Each prints its figure and its peer's measured in the
## same run and their ratio, then PASS or FAIL; it exits non-zero on FAIL and when the peer could
## not be measured.
bench: bench-ipvs bench-check bench-vrrp bench-rss bench-outage bench-ecmp bench-nginx bench-zookeeper

# IPVS apply of 1,000 services x 10 real servers vs ipvsadm -R, reload and restart write counts (in the VM).
bench-ipvs: deps
	$(GO) run ./e2e/cmd/testbed bench ipvsbench

# 2,000 and 10,000 real servers checked every second, each side in its steady state: checks/s and CPU
# per 10k checks, vs keepalived's checker (run under an LD_PRELOAD shim that checkbench compiles: hence
# gcc and libc6-dev).
bench-check:
	@bash .ci/deps gcc libc6-dev
	$(GO) run ./healthcheck/cmd/checkbench

# lbd's RSS and CPU with 1,000 services x 10 real servers checked every second, vs keepalived's
# (parent + checker + VRRP), in a private network namespace; IPVS stubbed on both sides (fake kernel;
# the LD_PRELOAD shim). Root.
bench-rss:
	@bash .ci/deps gcc libc6-dev
	$(GO) run ./director/cmd/rssbench

# The whole stack's client-visible outage (a request every 10 ms) after a master link cut and a
# graceful stop, lbd vs keepalived, 7 trials each (in the VM).
bench-outage: deps
	$(GO) run ./e2e/cmd/testbed bench outagebench

# Scale-out (issue 16): three lbd directors behind a bird2 ECMP router, 60 long-lived flows: share broken by
# lbctl drain-director and by a director's kill -9 with its link cut (sloppy_tcp on), time until its flows are
# served again and the router's route change, BGP hold 3 s and BFD 100ms x 3; side by side with the keepalived
# VRRP pair's takeover and bird2 announcing the VIP itself, 5 trials each (in the VM, about 10 min). A 1-trial run:
# go run ./e2e/cmd/testbed exec ecmpbench -quick
bench-ecmp: deps
	$(GO) run ./e2e/cmd/testbed bench ecmpbench

# VRRP takeover after a link cut and a graceful stop, lbd vs keepalived, in network namespaces: real
# `lbd run` processes with VRRP-only configurations (no IPVS needed), keepalived with the same timers.
bench-vrrp: deps
	$(GO) run ./vrrp/cmd/vrrpbench

# The seed's nginx pair (real nginx on two proxies, network namespaces, no IPVS): nginx killed on the
# master, time to the client's first answer through the backup, lbd vs keepalived, both tracking nginx
# with a 1 s check script. Root.
bench-nginx: deps
	$(GO) run ./director/cmd/nginxbench

# ZooKeeper discovery (issue 15): a real 3-node ensemble on this host (java, no root), lbd's director on the
# fake kernel (writes counted): 1,000 members registering in a second -> time until the table holds them and
# the IPVS writes; 100 joins and leaves per second for 60 s -> lag median/p99 and writes per change, against
# a plain watcher's own notification lag (the floor). ZKBENCH_FLAGS=-quick for a 10 s churn.
bench-zookeeper: deps
	$(GO) run ./director/cmd/zkbench $(ZKBENCH_FLAGS)

## soak: the chaos soak in the real-kernel testbed (kept out of make test; minutes): a director pair, two
## real servers and a client under random faults, invariants checked all along (e2e/README.md).
## SOAK_DURATION=60s for a short run (default 10m); SOAK_SEED=N replays the run that printed seed N.
soak: deps
	$(GO) run ./e2e/cmd/testbed soak

## install: binaries, systemd units, example configs and docs (DESTDIR= for staging, PREFIX=/usr/local).
PREFIX ?= /usr/local
install: build
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/systemd/system \
		$(DESTDIR)/etc/lbd $(DESTDIR)/etc/lbrs $(DESTDIR)$(PREFIX)/share/doc/lbd
	install -m 0755 $(BIN)/lbd $(BIN)/lbrs $(DESTDIR)$(PREFIX)/sbin/
	install -m 0755 $(BIN)/lbctl $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 deploy/lbd.service deploy/lbrs.service $(DESTDIR)/etc/systemd/system/
	install -m 0600 deploy/examples/lbd-master.yaml deploy/examples/lbd-backup.yaml $(DESTDIR)/etc/lbd/
	install -m 0644 deploy/examples/lbrs-web.yaml $(DESTDIR)/etc/lbrs/
	install -m 0644 README.md docs/config.md docs/metrics.md \
		docs/keepalived-mapping.md docs/ARCHITECTURE.md $(DESTDIR)$(PREFIX)/share/doc/lbd/
	@echo "installed; now: cp /etc/lbd/lbd-master.yaml /etc/lbd/lbd.yaml (or lbctl import-keepalived), lbd check -c /etc/lbd/lbd.yaml, systemctl daemon-reload && systemctl enable --now lbd"

clean:
	rm -rf $(BIN)

## deb: the Debian packages lbd and lbrs in build/deb (deploy/cmd/mkdeb, nfpm as a library), built
## reproducibly from the committed HEAD (SOURCE_DATE_EPOCH: the commit's time), then lintian.
.PHONY: deb test-deb
deb: deps
	rm -rf build/deb
	$(GO) run ./deploy/cmd/mkdeb -o build/deb
	lintian --tag-display-limit 0 build/deb/*.deb

## test-deb: needs root. Builds the packages twice (same bytes), checks them with lintian (no error),
## and installs, upgrades and purges them in a throwaway root (a mount namespace, an overlay over /
## with a tmpfs upper, chroot): the host's own system is never changed.
test-deb: deps
	$(GO) test -count=1 -tags deb -run 'TestDeb' -v ./deploy/cmd/mkdeb/

## test-systemd: needs root, qemu and mmdebstrap. The systemd kind of VM (e2e/README.md, "The systemd
## VM"): a Debian 12 root with systemd as PID 1 (built once with mmdebstrap, cached), the packages of
## make deb installed by dpkg in it, lbd.service and lbrs.service driven with systemctl. Kept out of
## make test (its own boot and a package build); .ci/run runs it after make test.
.PHONY: test-systemd
test-systemd: deps
	$(GO) test -count=1 -tags testbed -timeout 30m -v -run 'TestSystemdVM' ./e2e/
