package vm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// Kernel is the guest kernel: the image qemu boots and the module tree that
// belongs to it.
type Kernel struct {
	Version    string // e.g. "6.1.0-56-amd64"
	Image      string // /boot/vmlinuz-<Version>
	ModulesDir string // /lib/modules/<Version>
}

// FindKernel picks the newest /boot/vmlinuz-* that has a matching
// /lib/modules/<version>/modules.dep.
func FindKernel() (Kernel, error) {
	return findKernelIn("/boot", "/lib/modules")
}

func findKernelIn(bootDir, modRoot string) (Kernel, error) {
	images, err := filepath.Glob(filepath.Join(bootDir, "vmlinuz-*"))
	if err != nil {
		return Kernel{}, fmt.Errorf("listing kernels in %s: %w", bootDir, err)
	}
	var found []Kernel
	for _, img := range images {
		ver := strings.TrimPrefix(filepath.Base(img), "vmlinuz-")
		mods := filepath.Join(modRoot, ver)
		if _, err := os.Stat(filepath.Join(mods, "modules.dep")); err != nil {
			continue
		}
		found = append(found, Kernel{Version: ver, Image: img, ModulesDir: mods})
	}
	if len(found) == 0 {
		return Kernel{}, &MissingError{Items: []Missing{{
			What:    fmt.Sprintf("a kernel image %s/vmlinuz-VERSION with modules in %s/VERSION", bootDir, modRoot),
			Package: "linux-image-amd64",
		}}}
	}
	sort.Slice(found, func(i, j int) bool { return versionLess(found[i].Version, found[j].Version) })
	return found[len(found)-1], nil
}

var versionPartRE = regexp.MustCompile(`\d+|[^\d.\-+~]+`)

// versionLess compares kernel versions part by part, numbers numerically
// ("6.1.0-9" < "6.1.0-56").
func versionLess(a, b string) bool {
	ap, bp := versionPartRE.FindAllString(a, -1), versionPartRE.FindAllString(b, -1)
	for i := 0; i < len(ap) && i < len(bp); i++ {
		if ap[i] == bp[i] {
			continue
		}
		an, aerr := strconv.Atoi(ap[i])
		bn, berr := strconv.Atoi(bp[i])
		if aerr == nil && berr == nil {
			return an < bn
		}
		return ap[i] < bp[i]
	}
	return len(ap) < len(bp)
}

// Missing is one thing the host lacks, with the Debian package providing it.
type Missing struct {
	What    string
	Package string
}

// MissingError lists what the host lacks to build or boot the testbed.
type MissingError struct {
	Items []Missing
}

func (e *MissingError) Error() string {
	var b strings.Builder
	b.WriteString("the testbed host is missing:")
	pkgs := map[string]bool{}
	var names []string
	for _, m := range e.Items {
		fmt.Fprintf(&b, "\n  - %s (Debian package %s)", m.What, m.Package)
		if !pkgs[m.Package] {
			pkgs[m.Package] = true
			names = append(names, m.Package)
		}
	}
	fmt.Fprintf(&b, "\ninstall with: make deps (everything the project needs), or apt-get update && apt-get install --no-install-recommends %s", strings.Join(names, " "))
	return b.String()
}

// tool is a host program the testbed uses.
type tool struct {
	name     string
	pkg      string
	required bool
	guest    bool // copied into the initramfs
}

// hostTools are the programs looked up on the host. The guest ones are
// copied into the image with their libraries; optional ones only when
// present.
func hostTools() []tool {
	return []tool{
		{name: "qemu-system-x86_64", pkg: "qemu-system-x86", required: true},
		{name: "modprobe", pkg: "kmod", required: true},
		{name: "ldd", pkg: "libc-bin", required: true},
		{name: "busybox", pkg: "busybox-static", required: true, guest: true},
		{name: "ipvsadm", pkg: "ipvsadm", required: true, guest: true},
		{name: "ip", pkg: "iproute2", required: true, guest: true},
		{name: "ss", pkg: "iproute2", guest: true},
		{name: "bridge", pkg: "iproute2", guest: true},
		{name: "tcpdump", pkg: "tcpdump", guest: true},
		{name: "keepalived", pkg: "keepalived", guest: true},
		{name: "bird", pkg: "bird2", guest: true},  // the upstream router of the BGP/ECMP scenarios
		{name: "birdc", pkg: "bird2", guest: true}, // its control client
	}
}

// lookTool finds a host program in PATH or, failing that, in the sbin and
// bin directories a non-root PATH often lacks.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH nor in the sbin/bin directories: %w", name, exec.ErrNotFound)
}

// HostReport is what CheckHost found.
type HostReport struct {
	Kernel   Kernel
	Tools    map[string]string // name -> host path, for every tool found
	Optional []Missing         // optional guest tools not installed
}

// CheckHost verifies that this machine can build and boot the testbed: an
// amd64 host, the kernel and its modules, qemu, kmod, busybox, ipvsadm,
// iproute2. It returns a *MissingError naming what is missing and the apt
// command that installs it.
func CheckHost() (*HostReport, error) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return nil, fmt.Errorf("the testbed runs on linux/amd64 hosts only (this is %s/%s): it copies the host's x86-64 tools into the guest", runtime.GOOS, runtime.GOARCH)
	}
	rep := &HostReport{Tools: map[string]string{}}
	var missing []Missing
	for _, t := range hostTools() {
		p, err := lookTool(t.name)
		if err != nil {
			m := Missing{What: "the program " + t.name, Package: t.pkg}
			if t.required {
				missing = append(missing, m)
			} else {
				rep.Optional = append(rep.Optional, m)
			}
			continue
		}
		rep.Tools[t.name] = p
	}
	k, err := FindKernel()
	var me *MissingError
	switch {
	case errors.As(err, &me):
		missing = append(missing, me.Items...)
	case err != nil:
		return nil, err
	default:
		rep.Kernel = k
		f, err := os.Open(k.Image)
		if err != nil {
			return nil, fmt.Errorf("the kernel image %s is not readable (run as root): %w", k.Image, err)
		}
		f.Close()
	}
	if len(missing) > 0 {
		return rep, &MissingError{Items: missing}
	}
	return rep, nil
}

// insmodStep is one line of "modprobe --show-depends": a module file to
// load with its parameters.
type insmodStep struct {
	Path   string
	Params string
}

// parseShowDepends parses "modprobe --show-depends" output: "insmod PATH
// [params]" lines (kept) and "builtin NAME" lines (nothing to load).
func parseShowDepends(out []byte) ([]insmodStep, error) {
	var steps []insmodStep
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "builtin "):
		case strings.HasPrefix(line, "insmod "):
			rest := strings.TrimSpace(strings.TrimPrefix(line, "insmod "))
			p, params, _ := strings.Cut(rest, " ")
			steps = append(steps, insmodStep{Path: p, Params: strings.TrimSpace(params)})
		default:
			return nil, fmt.Errorf("unexpected modprobe --show-depends line %q", line)
		}
	}
	return steps, sc.Err()
}

// guestModule is a kernel module the image carries.
type guestModule struct {
	name     string
	required bool
}

// guestModules are the modules the image carries, in load order. Required
// ones fail the build when absent; the others are skipped with a note
// (ip_vs_twos only exists from Linux 6.2).
func guestModules() []guestModule {
	return []guestModule{
		{"ip_vs", true},
		{"ip_vs_rr", true}, {"ip_vs_wrr", true}, {"ip_vs_lc", true}, {"ip_vs_wlc", true},
		{"ip_vs_lblc", true}, {"ip_vs_lblcr", true}, {"ip_vs_dh", true}, {"ip_vs_sh", true},
		{"ip_vs_mh", true}, {"ip_vs_sed", true}, {"ip_vs_nq", true}, {"ip_vs_fo", true},
		{"ip_vs_ovf", true}, {"ip_vs_twos", false},
		{"nf_conntrack", true},
		{"veth", true}, {"bridge", true},
		{"ipip", true}, {"tunnel4", false}, {"ip_tunnel", false},
		{"gre", false}, {"ip_gre", false}, {"fou", false},
		{"tunnel6", false}, {"ip6_tunnel", false},
		{"macvlan", false}, {"dummy", false}, {"sch_netem", false},
		{"virtio_pci", false}, {"virtio_net", false}, // RunOptions.HostNet's NIC
	}
}

// resolveModules runs modprobe --show-depends for every module of mods and
// returns the deduplicated load order, plus the optional modules that were
// not found.
func resolveModules(ctx context.Context, modprobe string, k Kernel, mods []guestModule) (steps []insmodStep, skipped []string, err error) {
	seen := map[string]bool{}
	for _, m := range mods {
		cmd := exec.CommandContext(ctx, modprobe, "-S", k.Version, "--show-depends", m.name)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			if !m.required {
				skipped = append(skipped, m.name)
				continue
			}
			return nil, nil, fmt.Errorf("resolving kernel module %s for %s: %w: %s", m.name, k.Version, err, strings.TrimSpace(stderr.String()))
		}
		ms, err := parseShowDepends(out)
		if err != nil {
			return nil, nil, fmt.Errorf("resolving kernel module %s: %w", m.name, err)
		}
		for _, s := range ms {
			if seen[s.Path] {
				continue
			}
			seen[s.Path] = true
			steps = append(steps, s)
		}
	}
	return steps, skipped, nil
}

// lddLibs parses ldd output into the absolute paths of the libraries and
// the dynamic loader a program needs. Static programs have none.
func lddLibs(out []byte) ([]string, error) {
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "", strings.Contains(line, "not a dynamic executable"), strings.Contains(line, "statically linked"):
			continue
		case strings.Contains(line, "=> not found"):
			return nil, fmt.Errorf("ldd: missing library: %s", line)
		}
		if _, after, ok := strings.Cut(line, "=> "); ok {
			line = after
		}
		p, _, _ := strings.Cut(line, " ")
		if strings.HasPrefix(p, "/") {
			libs = append(libs, p)
		}
	}
	return libs, sc.Err()
}

// programLibs runs ldd on a host program.
func programLibs(ctx context.Context, ldd, prog string) ([]string, error) {
	out, err := exec.CommandContext(ctx, ldd, prog).CombinedOutput()
	if err != nil && !bytes.Contains(out, []byte("not a dynamic executable")) {
		return nil, fmt.Errorf("ldd %s: %w: %s", prog, err, strings.TrimSpace(string(out)))
	}
	libs, err := lddLibs(out)
	if err != nil {
		return nil, fmt.Errorf("libraries of %s: %w", prog, err)
	}
	return libs, nil
}
