// Package vm builds and boots the real-kernel testbed: an initramfs (busybox,
// the IPVS and networking kernel modules, ipvsadm/iproute2, our static Go
// commands and the guest test binaries) for the host's Debian kernel, booted
// under qemu TCG; the console is streamed back and sorted into results.
//
// One boot runs every guest package: a package with _test.go files carrying
// the build tag testbed_guest (found by DiscoverGuests) is compiled with
// "go test -c -tags testbed_guest" into /usr/local/bin/NAME.test, and the
// guest's runner executes, package after package, the tests declared in its
// testbed_guest files (not its plain unit tests). Plan says what a run will
// execute, Boot runs it, Outcomes judges the result per test and package:
// anything but a pass fails, a guest test that skips (itself or a subtest)
// included, since the VM is there to provide what the tests need.
// To add a guest package, write a //go:build testbed_guest test file in it:
// nothing to register. Its tests show up on the host as
// TestTestbed/<dir_with_underscores>/<TestName>; the scenarios of
// e2e/scenarios stay flat (TestTestbed/SeedDR).
//
// Benchmarks run in ModeCommand: Benches is a table of Go main packages
// built into every image with the arguments to run them with; BenchCommand
// and BenchParser run them in one boot and sort their output. To add one,
// add a row to Benches.
package vm
