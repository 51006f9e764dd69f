//go:build deb

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDebRoot (needs root; tag deb, make test-deb) builds the packages
// twice and compares the bytes, runs lintian (no error allowed), then
// installs, upgrades (a second build with a higher version) and purges them
// in a throwaway root: a private mount namespace with an overlay over /
// whose upper directory is a tmpfs, chrooted into. The host's own /usr,
// /etc and dpkg database are never written.
func TestDebRoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("TestDebRoot needs root (mount namespace, overlay, chroot)")
	}
	ctx := context.Background()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first, err := run(ctx, root, filepath.Join(dir, "old"), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("reproducible", func(t *testing.T) {
		again, err := run(ctx, root, filepath.Join(dir, "again"), "")
		if err != nil {
			t.Fatal(err)
		}
		for i := range first {
			a, _ := os.ReadFile(first[i])
			b, _ := os.ReadFile(again[i])
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("%s: two builds differ (%d and %d bytes)", filepath.Base(first[i]), len(a), len(b))
			}
		}
	})
	t.Run("lintian", func(t *testing.T) {
		out, _ := exec.Command("lintian", append([]string{"--tag-display-limit", "0"}, first...)...).CombinedOutput()
		t.Logf("lintian:\n%s", out)
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "E: ") {
				t.Errorf("lintian error: %s", l)
			}
		}
	})
	oldVersion := strings.Split(filepath.Base(first[0]), "_")[1]
	newVersion := oldVersion + "+up1"
	if _, err := run(ctx, root, filepath.Join(dir, "new"), newVersion); err != nil {
		t.Fatal(err)
	}
	t.Run("install-upgrade-purge", func(t *testing.T) {
		hostBefore := hostState(t)
		commit, err := git(ctx, root, "rev-parse", "HEAD")
		if err != nil {
			t.Fatal(err)
		}
		script := filepath.Join(dir, "throwaway.sh")
		if err := os.WriteFile(script, []byte(throwawayRoot), 0o755); err != nil {
			t.Fatal(err)
		}
		inside := filepath.Join(dir, "inside.sh")
		if err := os.WriteFile(inside, []byte(insideRoot), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", script, dir, inside, commit, newVersion)
		out, err := cmd.CombinedOutput()
		t.Logf("throwaway root:\n%s", out)
		if err != nil || !strings.Contains(string(out), "\nALL OK\n") {
			t.Errorf("install, upgrade, purge: %v", err)
		}
		if after := hostState(t); after != hostBefore {
			t.Errorf("the host changed: before %q, after %q", hostBefore, after)
		}
	})
}

// hostState is what the test must leave as it found on the host: the
// packages' status in its dpkg database and the files they install.
func hostState(t *testing.T) string {
	t.Helper()
	out, _ := exec.Command("dpkg-query", "-W", "-f", "${Package} ${Status}\n", "lbd", "lbrs").CombinedOutput()
	s := string(out)
	for _, f := range []string{"/usr/sbin/lbd", "/usr/bin/lbctl", "/usr/sbin/lbrs", "/etc/lbd/lbd-master.yaml", "/lib/systemd/system/lbd.service"} {
		if _, err := os.Stat(f); err == nil {
			s += " " + f
		}
	}
	return s
}

// throwawayRoot runs in a private mount namespace: $1 the test's directory
// (debs in old/ and new/), $2 the script to run chrooted, then its
// arguments. systemctl and deb-systemd-invoke are stubs there that log
// their calls to /calls, with /run/systemd/system present so that the
// maintainer scripts act as on a systemd host.
const throwawayRoot = `set -eu
dir=$1 inside=$2; shift 2
m=$(mktemp -d)
mount -t tmpfs tmpfs "$m"
mkdir "$m/upper" "$m/work" "$m/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$m/upper,workdir=$m/work" "$m/root"
mount --rbind /dev "$m/root/dev"
mount -t proc proc "$m/root/proc"
mount -t tmpfs tmpfs "$m/root/run"
mkdir -p "$m/root/run/systemd/system"
for stub in systemctl deb-systemd-invoke; do
	printf '#!/bin/sh\necho "%s $*" >> /calls\n' "$stub" > "$m/root/usr/local/sbin/$stub"
	chmod 755 "$m/root/usr/local/sbin/$stub"
done
: > "$m/root/calls"
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin chroot "$m/root" sh "$inside" "$dir" "$@" </dev/null
`

// insideRoot runs chrooted in the throwaway root: $1 the test's directory,
// $2 the commit, $3 the upgrade's version.
const insideRoot = `set -eu
dir=$1 commit=$2 newv=$3
fail() { echo "FAIL: $*"; echo "calls:"; cat /calls; exit 1; }
notstarted() {
	# enable through systemctl preset (what deb-systemd-helper enable runs on a first installation), or start
	if grep -E ' (start|restart|enable|preset|reload-or-restart)( |$)|--now' /calls; then fail "$1: a unit was started or enabled"; fi
	for u in lbd lbrs; do
		if ls /etc/systemd/system/*.wants/$u.service 2>/dev/null; then fail "$1: $u.service enabled"; fi
	done
}

echo "== install"
dpkg -i "$dir"/old/lbd_*.deb "$dir"/old/lbrs_*.deb
for f in /usr/sbin/lbd /usr/bin/lbctl /usr/sbin/lbrs /lib/systemd/system/lbd.service /lib/systemd/system/lbrs.service \
	/etc/lbd/lbd-master.yaml /etc/lbd/lbd-backup.yaml /etc/lbrs/lbrs-web.yaml /usr/share/man/man8/lbd.8.gz \
	/usr/share/man/man8/lbctl.8.gz /usr/share/man/man8/lbrs.8.gz /usr/share/man/man5/lbd.yaml.5.gz \
	/usr/share/man/man5/lbrs.yaml.5.gz /usr/share/bash-completion/completions/lbctl /usr/share/doc/lbd/copyright; do
	[ -e "$f" ] || fail "missing $f"
done
grep -qx '/etc/lbd/lbd-master.yaml' /var/lib/dpkg/info/lbd.conffiles || fail "lbd-master.yaml is not a conffile"
/usr/sbin/lbd version | grep -q "(revision $commit, " || fail "lbd version: $(/usr/sbin/lbd version)"
lbctl --version | grep -q "^lbctl " || fail "lbctl --version"
grep -q '^ExecStart=/usr/sbin/lbd run -c /etc/lbd/lbd.yaml$' /lib/systemd/system/lbd.service || fail "lbd.service paths"
[ "$(man -w lbd.yaml)" = /usr/share/man/man5/lbd.yaml.5.gz ] || fail "man -w lbd.yaml: $(man -w lbd.yaml 2>&1)"
notstarted install
echo "install calls:"; cat /calls

echo "== the operator edits a conffile and writes lbd.yaml"
echo '# edited by the operator' >> /etc/lbd/lbd-master.yaml
cp /etc/lbd/lbd-master.yaml /etc/lbd/lbd.yaml
echo '# edited by the operator' >> /etc/lbrs/lbrs-web.yaml
: > /calls

echo "== upgrade to $newv"
dpkg -i "$dir"/new/lbd_*.deb "$dir"/new/lbrs_*.deb
[ "$(dpkg-query -W -f '${Version}' lbd)" = "$newv" ] || fail "lbd not upgraded"
[ "$(tail -n 1 /etc/lbd/lbd-master.yaml)" = '# edited by the operator' ] || fail "edited conffile replaced"
[ "$(tail -n 1 /etc/lbrs/lbrs-web.yaml)" = '# edited by the operator' ] || fail "edited lbrs conffile replaced"
[ -e /etc/lbd/lbd.yaml ] || fail "lbd.yaml lost on upgrade"
grep -qx 'deb-systemd-invoke try-restart lbd.service' /calls || fail "upgrade: no try-restart (restart only if running)"
notstarted upgrade
echo "upgrade calls:"; cat /calls
: > /calls

echo "== remove"
dpkg -r lbd lbrs
[ ! -e /usr/sbin/lbd ] && [ ! -e /usr/sbin/lbrs ] || fail "binaries left after remove"
[ "$(tail -n 1 /etc/lbd/lbd-master.yaml)" = '# edited by the operator' ] || fail "conffile lost on remove"
[ -e /etc/lbd/lbd.yaml ] || fail "lbd.yaml lost on remove"
grep -qx 'deb-systemd-invoke stop lbd.service' /calls || fail "remove: lbd not stopped"
notstarted remove
echo "remove calls:"; cat /calls

echo "== purge"
dpkg -P lbd lbrs
[ ! -e /etc/lbd ] || fail "/etc/lbd left after purge: $(ls -la /etc/lbd)"
[ ! -e /etc/lbrs ] || fail "/etc/lbrs left after purge"
if dpkg-query -W -f '${Status}' lbd 2>/dev/null | grep -q installed; then fail "lbd still known to dpkg"; fi
echo
echo "ALL OK"
`
