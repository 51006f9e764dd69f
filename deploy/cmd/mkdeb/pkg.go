package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// maintainer is the packages' Maintainer (and the changelog's signer).
const maintainer = "lvsd/lb maintainers <lvsd-lb@users.noreply.github.com>"

// pkg is one package: its control fields and files.
type pkg struct {
	name, description             string
	depends, recommends, suggests []string
	files                         []file
	unit                          string // the systemd unit (name.service)
}

// file is one file of a package: from (in the build) to dst, mode, and
// whether it is a conffile.
type file struct {
	from, dst string
	mode      os.FileMode
	conf      bool
}

// packages lists what goes into lbd and lbrs.
func packages(b *built) []pkg {
	src := func(p ...string) string { return filepath.Join(append([]string{b.tree}, p...)...) }
	gen := func(p ...string) string { return filepath.Join(append([]string{b.gen}, p...)...) }
	bin := func(name string) string { return filepath.Join(b.bin, name) }
	doc := func(name string) []file {
		return []file{
			{gen(name + ".changelog.gz"), "/usr/share/doc/" + name + "/changelog.gz", 0o644, false},
			{gen("copyright"), "/usr/share/doc/" + name + "/copyright", 0o644, false},
			{gen(name + ".lintian"), "/usr/share/lintian/overrides/" + name, 0o644, false},
		}
	}
	lbd := pkg{name: "lbd", unit: "lbd.service",
		description: "load-balancer director: IPVS, VRRP and health checks\n" +
			" lbd programs the kernel's IPVS table from /etc/lbd/lbd.yaml, runs VRRP to move\n" +
			" virtual addresses between a pair of directors and health-checks the real\n" +
			" servers: keepalived's job, with strict configuration errors, a control socket\n" +
			" (lbctl) and Prometheus metrics. The service is not enabled on installation.",
		recommends: []string{"kmod", "iproute2"}, suggests: []string{"ipvsadm", "lbrs"},
		files: append([]file{
			{bin("lbd"), "/usr/sbin/lbd", 0o755, false},
			{bin("lbctl"), "/usr/bin/lbctl", 0o755, false},
			{gen("lbd.service"), "/lib/systemd/system/lbd.service", 0o644, false},
			{src("deploy", "examples", "lbd-master.yaml"), "/etc/lbd/lbd-master.yaml", 0o600, true},
			{src("deploy", "examples", "lbd-backup.yaml"), "/etc/lbd/lbd-backup.yaml", 0o600, true},
			{src("deploy", "examples", "lbd-nginx-pair.yaml"), "/etc/lbd/lbd-nginx-pair.yaml", 0o600, true},
			{gen("man", "lbd.8.gz"), "/usr/share/man/man8/lbd.8.gz", 0o644, false},
			{gen("man", "lbctl.8.gz"), "/usr/share/man/man8/lbctl.8.gz", 0o644, false},
			{gen("man", "lbd.yaml.5.gz"), "/usr/share/man/man5/lbd.yaml.5.gz", 0o644, false},
			{gen("man", "lbctl.bash"), "/usr/share/bash-completion/completions/lbctl", 0o644, false},
			{src("README.md"), "/usr/share/doc/lbd/README.md", 0o644, false},
			{src("docs", "config.md"), "/usr/share/doc/lbd/config.md", 0o644, false},
			{src("docs", "metrics.md"), "/usr/share/doc/lbd/metrics.md", 0o644, false},
			{src("docs", "keepalived-mapping.md"), "/usr/share/doc/lbd/keepalived-mapping.md", 0o644, false},
			{src("docs", "ARCHITECTURE.md"), "/usr/share/doc/lbd/ARCHITECTURE.md", 0o644, false},
		}, doc("lbd")...),
	}
	lbrs := pkg{name: "lbrs", unit: "lbrs.service",
		description: "load-balancer real-server agent: VIPs on lo or the tunnel, ARP sysctls\n" +
			" lbrs puts the virtual addresses of /etc/lbrs/lbrs.yaml on lo (direct routing)\n" +
			" or the tunnel device (IP tunnelling) of a real server behind lbd, sets\n" +
			" arp_ignore/arp_announce, and restores everything when it stops. The service\n" +
			" is not enabled on installation.",
		depends: []string{"kmod"}, recommends: []string{"iproute2"},
		files: append([]file{
			{bin("lbrs"), "/usr/sbin/lbrs", 0o755, false},
			{gen("lbrs.service"), "/lib/systemd/system/lbrs.service", 0o644, false},
			{src("deploy", "examples", "lbrs-web.yaml"), "/etc/lbrs/lbrs-web.yaml", 0o644, true},
			{gen("man", "lbrs.8.gz"), "/usr/share/man/man8/lbrs.8.gz", 0o644, false},
			{gen("man", "lbrs.yaml.5.gz"), "/usr/share/man/man5/lbrs.yaml.5.gz", 0o644, false},
		}, doc("lbrs")...),
	}
	return []pkg{lbd, lbrs}
}

// writeDeb writes p's package to path with nfpm's deb packager.
func writeDeb(b *built, p pkg, path string) error {
	scripts, err := writeScripts(b.gen, p)
	if err != nil {
		return err
	}
	var contents files.Contents
	for _, f := range p.files {
		typ := files.TypeFile
		if f.conf {
			typ = files.TypeConfig
		}
		contents = append(contents, &files.Content{Source: f.from, Destination: f.dst, Type: typ,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: f.mode, MTime: b.time}})
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name: p.name, Arch: "amd64", Platform: "linux", Version: b.version, VersionSchema: "none",
		Section: "net", Priority: "optional", Maintainer: maintainer, Description: p.description,
		MTime: b.time,
		Overridables: nfpm.Overridables{Depends: p.depends, Recommends: p.recommends, Suggests: p.suggests,
			Contents: contents, Scripts: scripts, Deb: nfpm.Deb{Compression: "xz"}},
	})
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return err
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := deb.Default.Package(info, out); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// installedUnit is the unit of deploy/ with the packages' paths:
// /usr/sbin and /usr/share/doc rather than make install's /usr/local.
func installedUnit(text string) string {
	return strings.NewReplacer("/usr/local/sbin/", "/usr/sbin/",
		"file:///usr/local/share/doc/lbd/README.md", "man:lbd(8) file:///usr/share/doc/lbd/README.md").Replace(text)
}

// writeUnits writes the packages' units and copyright into b.gen.
func writeUnits(b *built) error {
	for _, u := range []string{"lbd.service", "lbrs.service"} {
		text, err := os.ReadFile(filepath.Join(b.tree, "deploy", u))
		if err != nil {
			return err
		}
		s := installedUnit(string(text))
		if u == "lbrs.service" {
			s = strings.Replace(s, "man:lbd(8) ", "man:lbrs(8) ", 1)
		}
		if err := os.WriteFile(filepath.Join(b.gen, u), []byte(s), 0o644); err != nil {
			return err
		}
	}
	for name, bins := range map[string][]string{"lbd": {"usr/bin/lbctl", "usr/sbin/lbd"}, "lbrs": {"usr/sbin/lbrs"}} {
		text := "# Go binaries built with CGO_ENABLED=0 are static by design (lintian exempts Go only\n" +
			"# when it sees the source package's Build-Depends on golang-go).\n"
		for _, b := range bins {
			text += name + ": statically-linked-binary [" + b + "]\n"
		}
		if err := os.WriteFile(filepath.Join(b.gen, name+".lintian"), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(b.gen, "copyright"), []byte(fmt.Sprintf(copyright, b.commit)), 0o644)
}

const copyright = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: lb
Comment: Built from commit %s of the lb source tree (lbd, lbrs, lbctl).
 The source tree states no license yet; until it does, the authors
 keep all rights.

Files: *
Copyright: the lb authors
License: none-stated
 The source tree carries no license file.
`
