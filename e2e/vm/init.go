package vm

// Console markers the guest prints. The host reads them to tell a finished
// run from a VM that died, and to sort output by guest package and bench.
const (
	markerBoot        = "LBTESTBED-BOOT"
	markerStart       = "LBTESTBED-START"
	markerExit        = "LBTESTBED-EXIT"
	markerPackage     = "LBTESTBED-PKG"        // + " NAME": a guest package's binary starts
	markerPackageExit = "LBTESTBED-PKG-EXIT"   // + " NAME RC": and exited with RC
	markerBench       = "LBTESTBED-BENCH"      // + " NAME": a bench starts
	markerBenchExit   = "LBTESTBED-BENCH-EXIT" // + " NAME RC": and exited with RC
)

// Files of the image that describe the guest packages.
const (
	// RunnerPath runs every guest package's tests (what /init does in
	// ModeTest); in the debugging shell it runs them all again.
	RunnerPath = "/usr/local/sbin/lbtestbed-guests"
	// guestsFile lists "NAME BINARY" per guest package, in run order.
	guestsFile = "/etc/lbtestbed/guests"
	// guestTestsDir holds NAME: the tests of its testbed_guest files, one
	// per line.
	guestTestsDir = "/etc/lbtestbed/tests"
)

// insmodModules loads the modules listed in /etc/lbtestbed/modules (one
// per line, with parameters), in order; one already there is fine. Both
// kinds of VM's /init run it.
const insmodModules = `while read -r mod params; do
	[ -n "$mod" ] || continue
	if ! out=$(insmod "$mod" $params 2>&1); then
		case "$out" in
		*"File exists"*) ;;
		*) echo "lbtestbed: insmod $mod failed: $out" ;;
		esac
	fi
done < /etc/lbtestbed/modules
`

// initScript is the image's /init. The kernel hands unknown "NAME=value"
// command-line words to it as environment variables: E2E_MODE (test, cmd
// or shell), the runner's variables (see runnerScript), E2E_CMD (base64 of
// the shell command of ModeCommand), E2E_NET=1 (RunOptions.HostNet: bring
// the NIC up as guestNetAddr) and any E2E_* the host adds.
const initScript = `#!/bin/sh
# /init of the lbtestbed initramfs, written by e2e/vm.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /run/netns
hostname lbtestbed
echo "` + markerBoot + ` kernel $(uname -r), $(nproc) cpu(s), $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
` + insmodModules + `ip link set lo up
if [ "${E2E_NET:-}" = 1 ]; then
	# qemu's user network (RunOptions.HostNet): the host's loopback is ` + HostFromGuest + `.
	nic=
	for d in /sys/class/net/*; do
		[ -e "$d/device" ] && { nic=${d##*/}; break; } # a device, not a tunnel's fallback interface
	done
	if [ -n "$nic" ] && ip link set "$nic" up && ip addr add ` + guestNetAddr + ` dev "$nic"; then
		echo "lbtestbed: $nic ` + guestNetAddr + ` (the host is ` + HostFromGuest + `)"
	else
		echo "lbtestbed: no network interface for E2E_NET=1 (virtio_net missing?)"
	fi
fi
rc=0
case "${E2E_MODE:-test}" in
shell)
	echo "lbtestbed shell: kernel $(uname -r), IPVS $(cat /proc/net/ip_vs 2>/dev/null | head -1)"
	echo "lbtestbed shell: guest tests: $(cut -d' ' -f2 ` + guestsFile + ` | tr '\n' ' ')"
	echo "lbtestbed shell: run one with BINARY -test.v -test.run REGEXP, all with ` + RunnerPath + `; exit to power off (Ctrl-A X kills qemu)"
	setsid cttyhack sh -l
	;;
cmd)
	cmd=$(printf %s "${E2E_CMD:-}" | base64 -d 2>/dev/null)
	cd /tmp
	echo "` + markerStart + `"
	sh -c "$cmd" </dev/null
	rc=$?
	;;
*)
	cd /tmp
	echo "` + markerStart + `"
	` + RunnerPath + `
	rc=$?
	;;
esac
echo
echo "` + markerExit + ` $rc"
sync
poweroff -f
`

// runnerScript runs the guest packages listed in guestsFile one after
// another, each binary with -test.run selecting, among the top-level tests
// that E2E_RUN's pattern matches (go test's own matching, through
// -test.list), only those of its testbed_guest files. Environment:
//
//	E2E_RUN      base64 of the top-level part of the -test.run pattern (default: all)
//	E2E_SUB      base64 of the subtest part (after the first level's "/"), if any
//	E2E_PKGS     comma-separated guest names to run (default: all)
//	E2E_TIMEOUT  seconds for the whole run; each binary's -test.timeout is what is left
//	LBTESTBED_ETC  where guests and tests/ are (default /etc/lbtestbed; for tests)
//
// It prints markerPackage before a package and markerPackageExit with the
// binary's status after it, and exits 1 if any package failed.
const runnerScript = `#!/bin/sh
# lbtestbed-guests: runs the guest test packages of the image, written by e2e/vm.
etc=${LBTESTBED_ETC:-/etc/lbtestbed}
top=$(printf %s "${E2E_RUN:-}" | base64 -d 2>/dev/null)
[ -n "$top" ] || top=.
sub=$(printf %s "${E2E_SUB:-}" | base64 -d 2>/dev/null)
now() { cut -d. -f1 /proc/uptime; }
end=$(( $(now) + ${E2E_TIMEOUT:-600} ))
rc=0
while read -r name bin <&3; do
	[ -n "$name" ] || continue
	case ",${E2E_PKGS:-$name}," in
	*",$name,"*) ;;
	*) continue ;;
	esac
	echo "` + markerPackage + ` $name"
	if ! list=$("$bin" -test.list "$top" </dev/null 2>&1); then
		printf '%s\n' "$list"
		echo "lbtestbed: $bin -test.list failed"
		echo "` + markerPackageExit + ` $name 2"
		rc=1
		continue
	fi
	sel=$(printf '%s\n' "$list" | grep -Fx -f "$etc/tests/$name" | tr '\n' '|')
	sel=${sel%|}
	if [ -z "$sel" ]; then
		echo "` + markerPackageExit + ` $name 0"
		continue
	fi
	re="^($sel)\$"
	[ -z "$sub" ] || re="$re/$sub"
	left=$(( end - $(now) ))
	[ "$left" -ge 10 ] || left=10
	dir=${TMPDIR:-/tmp}/lbtestbed-$name
	mkdir -p "$dir" && cd "$dir" || cd /
	"$bin" -test.v -test.run "$re" -test.timeout "${left}s" </dev/null
	prc=$?
	cd /
	echo
	echo "` + markerPackageExit + ` $name $prc"
	[ "$prc" -eq 0 ] || rc=1
done 3< "$etc/guests"
exit $rc
`
