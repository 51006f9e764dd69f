package vm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// GuestTestPath is where the scenario package's test binary lives in the
// image; the other guest packages' binaries (NAME.test) and the Go
// commands go next to it in /usr/local/bin.
const GuestTestPath = "/usr/local/bin/scenarios.test"

// BuildOptions says what goes into the initramfs. The zero value builds the
// default image from the module containing the working directory.
type BuildOptions struct {
	// ModuleDir is the repository root (holding go.mod). Default: found
	// with "go env GOMOD" from the working directory.
	ModuleDir string
	// CacheDir holds built binaries, images and console logs. Default:
	// DefaultCacheDir().
	CacheDir string
	// Kernel to pair the modules with. Default: FindKernel().
	Kernel Kernel
	// Commands are the Go main packages to include (patterns relative to
	// ModuleDir, e.g. "./cmd/lbd"). nil means every main package under
	// ./cmd; an empty non-nil slice means none.
	Commands []string
	// GuestPackages are the guest packages to build with -tags
	// testbed_guest, by Name or path (see Guest). nil means every package
	// DiscoverGuests finds (./e2e/scenarios, ./director/kernel...).
	GuestPackages []string
	// GuestTags are build tags added to testbed_guest for the guest test
	// binaries: "testbed_soak" compiles the chaos soak (TestSoak) into
	// scenarios.test for "testbed soak". The tests of files that need such
	// a tag are not in Guest.Tests: the normal run never starts them.
	GuestTags []string
	// Benches are the VM benchmarks whose commands go into the image. nil
	// means Benches().
	Benches []Bench
	// GzipLevel compresses the archive with gzip at that level (1-9, or
	// gzip.DefaultCompression). The zero value, gzip.NoCompression, writes
	// plain cpio: measured here it boots about 1 s faster under TCG (the
	// guest need not inflate it) and packs in a fraction of the time, at
	// the cost of a larger file in the cache.
	GzipLevel int
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// Image is a built (or cached) initramfs plus the kernel to boot it with.
type Image struct {
	Kernel    Kernel
	Initrd    string        // path of the cpio archive
	Size      int64         // its size in bytes
	Cached    bool          // true when an identical archive was already in the cache
	Key       string        // content hash of the archive's inputs
	BuildTime time.Duration // the whole Build call, Go builds included
	GoTime    time.Duration // of which compiling the Go binaries
	PackTime  time.Duration // of which writing the archive (0 when cached)
	Guests    []Guest       // guest test packages, in run order (see Guest.BuildError)
	Commands  []string      // Go commands in /usr/local/bin, benches' included
	Benches   []Bench       // benches whose command is in the image
	// BenchErrors holds, by bench name, why a bench's command did not
	// build (it is then not in the image; the rest is).
	BenchErrors map[string]error
	Tools       []string // host tools copied in
	Modules     []string // module files, in load order
	Skipped     []string // optional modules or tools not available on this host
	CacheDir    string
	// Disk is a raw disk image attached as the guest's virtio disk
	// (/dev/vda) with qemu's snapshot=on; empty: none. The systemd kind of
	// VM (BuildSystemd) boots from it.
	Disk string
}

// DefaultCacheDir is $E2E_CACHE, else $XDG_CACHE_HOME/lbtestbed, else
// ~/.cache/lbtestbed.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("E2E_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding a cache directory (set E2E_CACHE): %w", err)
	}
	return filepath.Join(d, "lbtestbed"), nil
}

// goTool finds the go command: PATH, $GOROOT/bin, /usr/local/go/bin.
func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	for _, dir := range []string{filepath.Join(os.Getenv("GOROOT"), "bin"), "/usr/local/go/bin"} {
		p := filepath.Join(dir, "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the go command is not in PATH, $GOROOT/bin or /usr/local/go/bin")
}

// Build makes the initramfs: busybox and its applet links, the kernel
// modules IPVS and the topologies need, ipvsadm/iproute2 (and tcpdump,
// keepalived when installed) with their libraries, the static Go commands
// and bench commands, the test binary of every guest package (go test -c
// -tags testbed_guest) with the list of its tests, the runner and /init.
// The result is cached under CacheDir keyed by a hash of all of it, so an
// unchanged tree costs only the (cached) Go builds and the hash.
//
// A command under ./cmd that does not compile fails the build (choose
// others with E2E_CMDS). A guest package or bench that does not compile
// does not: it is left out and recorded in Guest.BuildError or
// Image.BenchErrors, so the rest still runs and the host reports it.
func Build(ctx context.Context, opts BuildOptions) (*Image, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rep, err := CheckHost()
	if err != nil {
		return nil, err
	}
	goBin, err := completeOptions(ctx, &opts, rep)
	if err != nil {
		return nil, err
	}
	unlock, err := lockDir(opts.CacheDir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	img := &Image{Kernel: opts.Kernel, CacheDir: opts.CacheDir}
	for _, m := range rep.Optional {
		img.Skipped = append(img.Skipped, m.What)
	}
	binDir := filepath.Join(opts.CacheDir, "bin")
	if err := buildGoBinaries(ctx, goBin, opts, binDir, img, log); err != nil {
		return nil, err
	}
	t, err := imageTree(ctx, rep, opts.Kernel, binDir, img)
	if err != nil {
		return nil, err
	}
	if err := packOrReuse(t, opts, img, log); err != nil {
		return nil, err
	}
	img.BuildTime = time.Since(start)
	return img, nil
}

// completeOptions fills opts' defaults (kernel, benches, module and cache
// directories; the cache directory is created) and returns the go
// command's path.
func completeOptions(ctx context.Context, opts *BuildOptions, rep *HostReport) (string, error) {
	if opts.Kernel.Version == "" {
		opts.Kernel = rep.Kernel
	}
	if opts.Benches == nil {
		opts.Benches = Benches()
	}
	goBin, err := goTool()
	if err != nil {
		return "", err
	}
	if opts.ModuleDir == "" {
		if opts.ModuleDir, err = moduleRoot(ctx, goBin); err != nil {
			return "", err
		}
	}
	if opts.CacheDir == "" {
		if opts.CacheDir, err = DefaultCacheDir(); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return "", fmt.Errorf("creating cache directory: %w", err)
	}
	return goBin, nil
}

// buildGoBinaries compiles the Go commands, benches and guest test
// binaries into binDir and records them (and what did not build) in img.
func buildGoBinaries(ctx context.Context, goBin string, opts BuildOptions, binDir string, img *Image, log *slog.Logger) error {
	goStart := time.Now()
	guests, err := DiscoverGuests(opts.ModuleDir)
	if err != nil {
		return err
	}
	if guests, err = selectGuests(guests, opts.GuestPackages); err != nil {
		return err
	}
	gb, err := buildGo(ctx, goBin, opts, guests, binDir)
	if err != nil {
		return err
	}
	img.GoTime = time.Since(goStart)
	img.Guests, img.Benches, img.BenchErrors, img.Commands = gb.guests, gb.benches, gb.benchErrors, gb.commands
	log.Info("go binaries built", "commands", gb.commands, "guests", len(gb.guests), "took", img.GoTime.Round(time.Millisecond))
	for _, g := range gb.guests {
		if g.BuildError != nil {
			log.Warn("guest package not built", "package", g.Package, "err", g.BuildError)
		}
	}
	for name, err := range gb.benchErrors {
		log.Warn("bench not built", "bench", name, "err", err)
	}
	return nil
}

// imageTree lays out the image's files: the base layout, busybox, the
// host tools with their libraries, the kernel modules, the Go binaries of
// img (from binDir) with the guest lists, the runner and /init. It records
// the tools, modules and skipped optional modules in img.
func imageTree(ctx context.Context, rep *HostReport, k Kernel, binDir string, img *Image) (*tree, error) {
	t := newTree()
	if err := baseLayout(t); err != nil {
		return nil, err
	}
	if err := addBusybox(ctx, t, rep.Tools["busybox"], rep.Tools); err != nil {
		return nil, err
	}
	ldd := rep.Tools["ldd"]
	for _, tl := range hostTools() {
		p, ok := rep.Tools[tl.name]
		if !ok || !tl.guest || tl.name == "busybox" {
			continue
		}
		if err := addProgram(ctx, t, ldd, p); err != nil {
			return nil, err
		}
		img.Tools = append(img.Tools, tl.name)
	}
	if err := addModules(ctx, t, rep.Tools["modprobe"], k, img, guestModules()); err != nil {
		return nil, err
	}
	addGoBinaries(t, binDir, img)
	t.addData(RunnerPath, []byte(runnerScript), 0o755)
	t.addData("/init", []byte(initScript), 0o755)
	return t, nil
}

// addModules adds the guest kernel modules in load order and their list
// /etc/lbtestbed/modules (path and parameters, for /init's insmod).
func addModules(ctx context.Context, t *tree, modprobe string, k Kernel, img *Image, mods []guestModule) error {
	steps, skippedMods, err := resolveModules(ctx, modprobe, k, mods)
	if err != nil {
		return err
	}
	for _, m := range skippedMods {
		img.Skipped = append(img.Skipped, "kernel module "+m)
	}
	var modList strings.Builder
	for _, s := range steps {
		imgPath, err := addModule(ctx, t, s.Path)
		if err != nil {
			return err
		}
		img.Modules = append(img.Modules, path.Base(imgPath))
		fmt.Fprintf(&modList, "%s %s\n", imgPath, s.Params)
	}
	t.addData("/etc/lbtestbed/modules", []byte(modList.String()), 0o644)
	return nil
}

// addGoBinaries adds img's commands and the binaries of the guests that
// built, with the guest list and each guest's tests for the runner.
func addGoBinaries(t *tree, binDir string, img *Image) {
	for _, c := range img.Commands {
		t.addFile(path.Join("/usr/local/bin", c), filepath.Join(binDir, c), 0o755)
	}
	var guestList strings.Builder
	for _, g := range img.Guests {
		if g.BuildError != nil {
			continue
		}
		t.addFile(g.Binary, filepath.Join(binDir, path.Base(g.Binary)), 0o755)
		fmt.Fprintf(&guestList, "%s %s\n", g.Name, g.Binary)
		var tests strings.Builder
		for _, name := range g.Tests {
			tests.WriteString(name + "\n")
		}
		t.addData(path.Join(guestTestsDir, g.Name), []byte(tests.String()), 0o644)
	}
	t.addData(guestsFile, []byte(guestList.String()), 0o644)
}

// packOrReuse names the archive by the tree's content hash and reuses it
// from the cache when present, else writes it (and prunes old ones).
func packOrReuse(t *tree, opts BuildOptions, img *Image, log *slog.Logger) error {
	key, err := t.hash()
	if err != nil {
		return err
	}
	img.Key = key[:16]
	ext := ".cpio.gz"
	if opts.GzipLevel == gzip.NoCompression {
		ext = ".cpio"
	}
	img.Initrd = filepath.Join(opts.CacheDir, "initramfs-"+img.Key+ext)
	if st, err := os.Stat(img.Initrd); err == nil {
		now := time.Now()
		os.Chtimes(img.Initrd, now, now) // most recently used survives pruning
		img.Cached, img.Size = true, st.Size()
		log.Info("initramfs cached", "path", img.Initrd, "size", st.Size())
		return nil
	}
	packStart := time.Now()
	if err := writeArchive(t, img.Initrd, opts.GzipLevel); err != nil {
		return err
	}
	img.PackTime = time.Since(packStart)
	st, err := os.Stat(img.Initrd)
	if err != nil {
		return fmt.Errorf("stat of the new initramfs: %w", err)
	}
	img.Size = st.Size()
	pruneOld(filepath.Join(opts.CacheDir, "initramfs-*"), 3)
	log.Info("initramfs built", "path", img.Initrd, "size", img.Size, "pack", img.PackTime.Round(time.Millisecond))
	return nil
}

// moduleRoot asks the go command for the main module's directory.
func moduleRoot(ctx context.Context, goBin string) (string, error) {
	out, err := exec.CommandContext(ctx, goBin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the repository or set BuildOptions.ModuleDir")
	}
	return filepath.Dir(gomod), nil
}

// lockDir takes an exclusive lock on dir/lock, so concurrent builds do not
// write the same binaries at once.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the cache lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking the cache: %w", err)
	}
	return func() { f.Close() }, nil
}

// goBuilt is what buildGo produced.
type goBuilt struct {
	commands    []string // names in binDir, commands and benches
	guests      []Guest  // with Binary set, or BuildError
	benches     []Bench  // those that built
	benchErrors map[string]error
}

// buildGo compiles, static, into binDir: the Go commands (any failure is
// an error), the benches' commands and every guest package's test binary
// (failures recorded, not returned). Two go commands run at a time; go's
// build cache makes a rebuild of unchanged code cheap. Binaries of
// commands, benches and guests that no longer exist or did not build are
// removed from binDir.
func buildGo(ctx context.Context, goBin string, opts BuildOptions, guests []Guest, binDir string) (*goBuilt, error) {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", binDir, err)
	}
	b := &goBuild{ctx: ctx, goBin: goBin, dir: opts.ModuleDir, binDir: binDir, owner: map[string]string{},
		tags: strings.Join(append([]string{GuestTag}, opts.GuestTags...), ","),
		env:  append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")}
	pkgs := opts.Commands
	if pkgs == nil {
		var err error
		if pkgs, err = mainPackages(ctx, goBin, opts.ModuleDir, b.env); err != nil {
			return nil, err
		}
	}
	if err := b.addCommands(pkgs); err != nil {
		return nil, err
	}
	if err := b.addBenches(opts.Benches); err != nil {
		return nil, err
	}
	res := &goBuilt{benchErrors: map[string]error{}}
	var err error
	if res.guests, err = b.addGuests(guests); err != nil {
		return nil, err
	}
	runJobs(b.jobs, 2)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("building the testbed's Go binaries: %w", err)
	}
	if b.cmdErr != nil {
		return nil, b.cmdErr
	}
	for _, p := range pkgs {
		res.commands = append(res.commands, path.Base(strings.TrimSuffix(p, "/")))
	}
	for i, bn := range opts.Benches {
		if b.benchErrs[i] != nil {
			res.benchErrors[bn.Name] = fmt.Errorf("building bench %s (%s) failed: %w", bn.Name, bn.Package, b.benchErrs[i])
			continue
		}
		res.benches = append(res.benches, bn)
		res.commands = append(res.commands, bn.Name)
	}
	keep := map[string]bool{}
	for _, c := range res.commands {
		keep[c] = true
	}
	for i := range res.guests {
		if res.guests[i].BuildError != nil {
			res.guests[i].Binary = ""
			continue
		}
		keep[path.Base(res.guests[i].Binary)] = true
	}
	pruneDir(binDir, keep)
	return res, nil
}

// goBuild collects go build jobs into one directory of binaries, making
// sure no two binaries share a name. The jobs write only their own result
// field or slot.
type goBuild struct {
	ctx    context.Context
	goBin  string
	dir    string // the module root, where go runs
	env    []string
	binDir string
	tags   string            // -tags of the guest test binaries
	owner  map[string]string // binary name -> the package it is built from
	jobs   []func()

	cmdErr    error   // the commands' build, once the jobs have run
	benchErrs []error // each bench's build, once the jobs have run
}

// goFlags are the flags of every build: small static binaries without
// local paths or VCS stamps, so identical sources give identical images.
func goFlags() []string { return []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w"} }

// run runs one go command in the module root.
func (b *goBuild) run(args ...string) error {
	cmd := exec.CommandContext(b.ctx, b.goBin, args...)
	cmd.Dir = b.dir
	cmd.Env = b.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// claim reserves a binary name for pkg.
func (b *goBuild) claim(name, pkg string) error {
	if other, dup := b.owner[name]; dup {
		return fmt.Errorf("the testbed image would hold two binaries named %s (%s and %s)", name, other, pkg)
	}
	b.owner[name] = pkg
	return nil
}

// addCommands adds one job building every command package (its error in
// cmdErr).
func (b *goBuild) addCommands(pkgs []string) error {
	for _, p := range pkgs {
		if err := b.claim(path.Base(strings.TrimSuffix(p, "/")), p); err != nil {
			return err
		}
	}
	if len(pkgs) == 0 {
		return nil
	}
	args := append(append(append([]string{"build"}, goFlags()...), "-o", b.binDir+"/"), pkgs...)
	b.jobs = append(b.jobs, func() {
		if err := b.run(args...); err != nil {
			b.cmdErr = fmt.Errorf("building the Go commands for the testbed (%s) failed; fix the package or choose others with E2E_CMDS: %w", strings.Join(pkgs, " "), err)
		}
	})
	return nil
}

// addBenches adds a job per bench (its error in benchErrs).
func (b *goBuild) addBenches(benches []Bench) error {
	b.benchErrs = make([]error, len(benches))
	for i, bn := range benches {
		if err := b.claim(bn.Name, bn.Package); err != nil {
			return err
		}
		args := append(append([]string{"build"}, goFlags()...), "-o", filepath.Join(b.binDir, bn.Name), bn.Package)
		b.jobs = append(b.jobs, func() { b.benchErrs[i] = b.run(args...) })
	}
	return nil
}

// addGuests adds a go test -c job per guest package; the returned guests
// have their Binary set and, once the jobs have run, their BuildError.
func (b *goBuild) addGuests(guests []Guest) ([]Guest, error) {
	out := make([]Guest, len(guests))
	for i, g := range guests {
		g.Binary = guestBinary(g.Name)
		if err := b.claim(path.Base(g.Binary), g.Package); err != nil {
			return nil, err
		}
		out[i] = g
		bin := filepath.Join(b.binDir, path.Base(g.Binary))
		args := append(append([]string{"test", "-c", "-tags", b.tags}, goFlags()...), "-o", bin, g.Package)
		b.jobs = append(b.jobs, func() {
			err := b.run(args...)
			if err == nil {
				if _, serr := os.Stat(bin); serr != nil {
					err = fmt.Errorf("go test -c produced no test binary (no _test.go files?): %w", serr)
				}
			}
			if err != nil {
				out[i].BuildError = errors.Join(out[i].BuildError, err)
			}
		})
	}
	return out, nil
}

// pruneDir removes the files of dir not named in keep.
func pruneDir(dir string, keep map[string]bool) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !keep[e.Name()] {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// runJobs runs jobs, at most n at a time, and waits for all of them.
func runJobs(jobs []func(), n int) {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			j()
		}()
	}
	wg.Wait()
}

// mainPackages lists the main packages under ./cmd.
func mainPackages(ctx context.Context, goBin, dir string, env []string) ([]string, error) {
	cmd := exec.CommandContext(ctx, goBin, "list", "-e", "-f", "{{.Name}}|{{.ImportPath}}|{{if .Error}}{{.Error}}{{end}}", "./cmd/...")
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the commands under ./cmd: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var pkgs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, rest, _ := strings.Cut(sc.Text(), "|")
		imp, perr, _ := strings.Cut(rest, "|")
		switch {
		case perr != "":
			return nil, fmt.Errorf("package %s under ./cmd does not load: %s", imp, perr)
		case name == "main":
			pkgs = append(pkgs, imp)
		}
	}
	return pkgs, sc.Err()
}

// baseLayout adds the directories, device nodes and /etc files every image
// has.
func baseLayout(t *tree) error {
	for _, d := range []string{"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin",
		"/lib", "/lib64", "/proc", "/sys", "/dev", "/run", "/root", "/var/log", "/var/tmp", "/etc/lbtestbed", "/mnt"} {
		t.addDir(d, 0o755)
	}
	t.addDir("/tmp", 0o1777)
	t.addSymlink("/var/run", "../run")
	t.addCharDev("/dev/console", 5, 1, 0o600)
	t.addCharDev("/dev/null", 1, 3, 0o666)
	t.addData("/etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"), 0o644)
	t.addData("/etc/group", []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	t.addData("/etc/hosts", []byte("127.0.0.1\tlocalhost lbtestbed\n::1\tlocalhost\n"), 0o644)
	t.addData("/etc/nsswitch.conf", []byte("passwd: files\ngroup: files\nhosts: files\nservices: files\nprotocols: files\n"), 0o644)
	for _, f := range []string{"/etc/protocols", "/etc/services"} {
		if _, err := os.Stat(f); err == nil {
			t.addFile(f, f, 0o644)
		}
	}
	return nil
}

// addBusybox copies busybox to /bin/busybox and links every applet to it,
// except applets a real tool in the image provides (busybox's "ip" must not
// answer for iproute2's).
func addBusybox(ctx context.Context, t *tree, busybox string, tools map[string]string) error {
	src, err := filepath.EvalSymlinks(busybox)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", busybox, err)
	}
	out, err := exec.CommandContext(ctx, busybox, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("busybox --list-full (is %s busybox-static?): %w", busybox, err)
	}
	t.addFile("/bin/busybox", src, 0o755)
	if libs, err := programLibs(ctx, tools["ldd"], src); err != nil {
		return err
	} else {
		for _, l := range libs {
			if err := addLib(t, l); err != nil {
				return err
			}
		}
	}
	real := map[string]bool{}
	for _, tl := range hostTools() {
		if _, ok := tools[tl.name]; ok && tl.guest && tl.name != "busybox" {
			real[tl.name] = true
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	n := 0
	var shadowed []string
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if p == "" || !strings.Contains(p, "/") || cleanImagePath(p) == "/bin/busybox" {
			continue
		}
		if real[path.Base(p)] {
			shadowed = append(shadowed, path.Base(p))
			continue
		}
		t.addSymlink(p, "/bin/busybox")
		n++
	}
	if n == 0 {
		return fmt.Errorf("busybox --list-full listed no applets")
	}
	t.addSymlink("/bin/sh", "/bin/busybox")
	// busybox's sh runs its own applets before searching PATH; in the
	// debugging shell, functions make the real tools win.
	var profile strings.Builder
	profile.WriteString("# /etc/profile of the lbtestbed shell\nexport PS1='lbtestbed:\\w# '\n")
	for _, name := range shadowed {
		fmt.Fprintf(&profile, "%s() { %s \"$@\"; }\n", name, tools[name])
	}
	t.addData("/etc/profile", []byte(profile.String()), 0o644)
	return nil
}

// addProgram copies a host program into the image at the same path, with
// every library ldd lists and the dynamic loader.
func addProgram(ctx context.Context, t *tree, ldd, prog string) error {
	src, err := filepath.EvalSymlinks(prog)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", prog, err)
	}
	t.addFile(prog, src, 0o755)
	libs, err := programLibs(ctx, ldd, src)
	if err != nil {
		return err
	}
	for _, l := range libs {
		if err := addLib(t, l); err != nil {
			return err
		}
	}
	return nil
}

func addLib(t *tree, lib string) error {
	if t.has(lib) {
		return nil
	}
	src, err := filepath.EvalSymlinks(lib)
	if err != nil {
		return fmt.Errorf("resolving library %s: %w", lib, err)
	}
	t.addFile(lib, src, 0o755)
	return nil
}

// addModule adds a kernel module at its own path, decompressed (busybox
// insmod may not read compressed modules). It returns the path in the image.
func addModule(ctx context.Context, t *tree, p string) (string, error) {
	var decompress []string
	imgPath := p
	switch {
	case strings.HasSuffix(p, ".ko"):
		t.addFile(p, p, 0o644)
		return p, nil
	case strings.HasSuffix(p, ".ko.gz"):
		f, err := os.Open(p)
		if err != nil {
			return "", fmt.Errorf("reading module %s: %w", p, err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return "", fmt.Errorf("decompressing module %s: %w", p, err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			return "", fmt.Errorf("decompressing module %s: %w", p, err)
		}
		imgPath = strings.TrimSuffix(p, ".gz")
		t.addData(imgPath, b, 0o644)
		return imgPath, nil
	case strings.HasSuffix(p, ".ko.xz"):
		decompress, imgPath = []string{"xz", "-dc"}, strings.TrimSuffix(p, ".xz")
	case strings.HasSuffix(p, ".ko.zst"):
		decompress, imgPath = []string{"zstd", "-dc"}, strings.TrimSuffix(p, ".zst")
	default:
		return "", fmt.Errorf("kernel module %s: unknown file type", p)
	}
	tool, err := lookTool(decompress[0])
	if err != nil {
		pkg := map[string]string{"xz": "xz-utils", "zstd": "zstd"}[decompress[0]]
		return "", &MissingError{Items: []Missing{{What: "the program " + decompress[0] + " (to decompress " + filepath.Base(p) + ")", Package: pkg}}}
	}
	b, err := exec.CommandContext(ctx, tool, append(decompress[1:], p)...).Output()
	if err != nil {
		return "", fmt.Errorf("decompressing module %s: %w", p, err)
	}
	t.addData(imgPath, b, 0o644)
	return imgPath, nil
}

// writeArchive writes the tree as (gzip-compressed) cpio to dst atomically.
func writeArchive(t *tree, dst string, level int) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".initramfs-*")
	if err != nil {
		return fmt.Errorf("creating the initramfs: %w", err)
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<20)
	var w io.Writer = bw
	var zw *gzip.Writer
	if level != gzip.NoCompression {
		if zw, err = gzip.NewWriterLevel(bw, level); err != nil {
			tmp.Close()
			return fmt.Errorf("gzip level %d: %w", level, err)
		}
		w = zw
	}
	err = t.writeCPIO(w)
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the initramfs: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("installing the initramfs: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("installing the initramfs: %w", err)
	}
	return nil
}

// pruneOld removes all but the keep most recently modified files matching
// pattern.
func pruneOld(pattern string, keep int) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) <= keep {
		return
	}
	type fm struct {
		path string
		mod  time.Time
	}
	var all []fm
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			all = append(all, fm{f, st.ModTime()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod.After(all[j].mod) })
	for i := keep; i < len(all); i++ {
		os.Remove(all[i].path)
	}
}
