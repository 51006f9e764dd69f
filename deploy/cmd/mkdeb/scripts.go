package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/goreleaser/nfpm/v2"
)

// The maintainer scripts follow what dh_installsystemd writes for a unit
// installed with --no-enable and --no-start (an opt-in daemon: lbd needs
// /etc/lbd/lbd.yaml written first, lbrs changes the node's addresses and
// ARP behaviour): installing enables and starts nothing; an upgrade keeps
// the unit enabled if the operator enabled it and restarts it only if it
// was running (try-restart); removing stops it; purging forgets its
// enablement and removes the configuration and state the operator's use
// created (/etc/NAME, /var/lib/NAME). Conffiles are dpkg's: kept on
// upgrade (an edited one is never overwritten silently) and on remove,
// deleted on purge.
const (
	postinst = `#!/bin/sh
set -e
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ]; then
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		if deb-systemd-helper debian-installed '@UNIT@'; then
			deb-systemd-helper unmask '@UNIT@' >/dev/null || true
			if deb-systemd-helper --quiet was-enabled '@UNIT@'; then
				deb-systemd-helper enable '@UNIT@' >/dev/null || true
			fi
		fi
		deb-systemd-helper update-state '@UNIT@' >/dev/null || true
	fi
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		if [ -n "$2" ]; then
			deb-systemd-invoke try-restart '@UNIT@' >/dev/null || true
		fi
	fi
fi
`
	prerm = `#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
	deb-systemd-invoke stop '@UNIT@' >/dev/null || true
fi
`
	postrm = `#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "remove" ] && command -v deb-systemd-helper >/dev/null 2>&1; then
	deb-systemd-helper mask '@UNIT@' >/dev/null || true
fi
if [ "$1" = "purge" ]; then
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		deb-systemd-helper purge '@UNIT@' >/dev/null || true
		deb-systemd-helper unmask '@UNIT@' >/dev/null || true
	fi
	rm -f /etc/@NAME@/@NAME@.yaml
	rm -f /etc/@NAME@/*.dpkg-old /etc/@NAME@/*.dpkg-dist /etc/@NAME@/*.dpkg-new /etc/@NAME@/*.dpkg-bak
	rmdir --ignore-fail-on-non-empty /etc/@NAME@ 2>/dev/null || true
	rm -rf /var/lib/@NAME@
fi
`
)

// writeScripts writes p's maintainer scripts into dir.
func writeScripts(dir string, p pkg) (nfpm.Scripts, error) {
	r := strings.NewReplacer("@UNIT@", p.unit, "@NAME@", p.name)
	paths := map[string]string{}
	for name, text := range map[string]string{"postinst": postinst, "prerm": prerm, "postrm": postrm} {
		path := filepath.Join(dir, p.name+"."+name)
		if err := os.WriteFile(path, []byte(r.Replace(text)), 0o755); err != nil {
			return nfpm.Scripts{}, err
		}
		paths[name] = path
	}
	return nfpm.Scripts{PostInstall: paths["postinst"], PreRemove: paths["prerm"], PostRemove: paths["postrm"]}, nil
}
