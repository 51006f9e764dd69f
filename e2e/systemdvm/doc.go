// Package systemdvm holds the guest tests of the systemd kind of VM
// (e2e/vm/systemd.go, issue 18): files with the testbed_systemd build tag,
// run inside a Debian root with systemd as PID 1 after the packages that
// "make deb" builds are installed there by dpkg. They prove what the units
// lbd.service and lbrs.service promise (start through READY=1, reload,
// stop, Restart=always, the hardening with VRRP, GARP, the sync daemon and
// checks, lbrs's restore on stop). The host side is TestSystemdVM in e2e/
// (make test-systemd).
package systemdvm
