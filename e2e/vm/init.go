package vm

// Console markers /init prints around the guest test run. The host reads
// them to tell a finished run from a VM that died.
const (
	markerBoot  = "LBTESTBED-BOOT"
	markerStart = "LBTESTBED-START"
	markerExit  = "LBTESTBED-EXIT"
)

// initScript is the image's /init. The kernel hands unknown "NAME=value"
// command-line words to it as environment variables: E2E_MODE (test or
// shell), E2E_RUN (base64 of the -test.run regexp), E2E_TIMEOUT (the
// guest's -test.timeout) and any E2E_* the host adds for scenarios.
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
while read -r mod params; do
	[ -n "$mod" ] || continue
	if ! out=$(insmod "$mod" $params 2>&1); then
		case "$out" in
		*"File exists"*) ;;
		*) echo "lbtestbed: insmod $mod failed: $out" ;;
		esac
	fi
done < /etc/lbtestbed/modules
ip link set lo up
rc=0
case "${E2E_MODE:-test}" in
shell)
	echo "lbtestbed shell: kernel $(uname -r), IPVS $(cat /proc/net/ip_vs 2>/dev/null | head -1)"
	echo "lbtestbed shell: scenarios: ` + GuestTestPath + ` -test.v -test.run REGEXP; exit to power off (Ctrl-A X kills qemu)"
	setsid cttyhack sh -l
	;;
*)
	run=$(echo "${E2E_RUN:-}" | base64 -d 2>/dev/null)
	[ -n "$run" ] || run='^TestScenario'
	cd /tmp
	echo "` + markerStart + `"
	` + GuestTestPath + ` -test.v -test.run "$run" -test.timeout "${E2E_TIMEOUT:-10m}"
	rc=$?
	;;
esac
echo
echo "` + markerExit + ` $rc"
sync
poweroff -f
`
