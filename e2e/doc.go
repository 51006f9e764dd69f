// Package e2e is the real-kernel testbed. The host kernel has no IPVS, so
// the scenarios in e2e/scenarios run inside a qemu VM (TCG) booting the
// host's Debian kernel with a generated initramfs (e2e/vm); internal/netnslab builds
// their network namespaces. TestTestbed (build tag testbed) boots one VM
// for all scenarios and reports each as a subtest. See README.md.
package e2e
