// Command mkdeb builds the Debian packages lbd and lbrs ("make deb") with
// nfpm as a library: reproducibly, from the committed HEAD (a clean clone,
// so that the binaries carry the VCS revision and two runs give the same
// bytes), with SOURCE_DATE_EPOCH the commit's time unless set.
//
//	go run ./deploy/cmd/mkdeb [-o build/deb] [-version V]
//
// lbd: lbd, lbctl, lbd.service, the example configurations as conffiles
// under /etc/lbd, the docs, the man pages and lbctl's bash completion. lbrs:
// lbrs, lbrs.service, its example under /etc/lbrs, its man pages. The
// maintainer scripts enable and start nothing (an opt-in daemon, as
// dh_installsystemd --no-enable --no-start writes them): see scripts.go.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"
)

func main() {
	out := flag.String("o", "build/deb", "output `directory`")
	src := flag.String("src", ".", "the source tree (a git checkout)")
	version := flag.String("version", "", "package version (default: from the commit: its tag, else 0.0~gitDATE.REV)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	debs, err := run(ctx, *src, *out, *version)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkdeb:", err)
		os.Exit(1)
	}
	for _, d := range debs {
		st, err := os.Stat(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mkdeb:", err)
			os.Exit(1)
		}
		fmt.Printf("%s %d bytes\n", d, st.Size())
	}
	fmt.Printf("built in %s\n", time.Since(start).Round(100*time.Millisecond))
}

// run builds the packages into out and returns their paths.
func run(ctx context.Context, src, out, version string) ([]string, error) {
	tmp, err := os.MkdirTemp("", "mkdeb-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	b, err := prepare(ctx, src, tmp, version)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	var debs []string
	for _, p := range packages(b) {
		path := filepath.Join(out, fmt.Sprintf("%s_%s_amd64.deb", p.name, b.version))
		if err := writeDeb(b, p, path); err != nil {
			return nil, fmt.Errorf("package %s: %w", p.name, err)
		}
		debs = append(debs, path)
	}
	return debs, nil
}
