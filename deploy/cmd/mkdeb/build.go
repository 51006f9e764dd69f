package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lb/internal/manpage"
)

// built is the clean tree, its binaries and generated files.
type built struct {
	tree    string    // the clone of the commit
	bin     string    // lbd, lbrs, lbctl
	gen     string    // man pages (gzipped), completion, changelogs
	commit  string    // the full revision
	time    time.Time // SOURCE_DATE_EPOCH: every file's mtime
	version string    // the Debian version
}

// prepare clones src's HEAD into tmp, builds the binaries there and
// generates the man pages and the completion.
func prepare(ctx context.Context, src, tmp, version string) (*built, error) {
	b := &built{tree: filepath.Join(tmp, "src"), bin: filepath.Join(tmp, "bin"), gen: filepath.Join(tmp, "gen")}
	var err error
	if b.commit, err = git(ctx, src, "rev-parse", "HEAD"); err != nil {
		return nil, err
	}
	if st, _ := git(ctx, src, "status", "--porcelain", "--untracked-files=no"); st != "" {
		fmt.Fprintf(os.Stderr, "mkdeb: the tree has uncommitted changes; the packages are built from the commit %.12s\n", b.commit)
	}
	if b.time, err = sourceDate(ctx, src); err != nil {
		return nil, err
	}
	if version == "" {
		if version, err = debVersion(ctx, src, b.commit, b.time); err != nil {
			return nil, err
		}
	}
	b.version = version
	if _, err := git(ctx, tmp, "clone", "-q", "--no-checkout", "--shared", mustAbs(src), b.tree); err != nil {
		return nil, err
	}
	if _, err := git(ctx, b.tree, "checkout", "-q", "--detach", b.commit); err != nil {
		return nil, err
	}
	if err := goBuild(ctx, b.tree, b.bin); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(b.gen, 0o755); err != nil {
		return nil, err
	}
	if err := writeUnits(b); err != nil {
		return nil, err
	}
	return b, b.generate()
}

func mustAbs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// sourceDate is SOURCE_DATE_EPOCH, or the commit's time.
func sourceDate(ctx context.Context, src string) (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		var err error
		if s, err = git(ctx, src, "log", "-1", "--format=%ct"); err != nil {
			return time.Time{}, err
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// debVersion is the commit's tag without its "v" (v1.2.0: 1.2.0), else
// 0.0~gitYYYYMMDDHHMMSS.REV12, which sorts before any release.
func debVersion(ctx context.Context, src, commit string, t time.Time) (string, error) {
	if tag, err := git(ctx, src, "describe", "--tags", "--exact-match", "--match", "v[0-9]*"); err == nil && tag != "" {
		return strings.TrimPrefix(tag, "v"), nil
	}
	return fmt.Sprintf("0.0~git%s.%.12s", t.Format("20060102150405"), commit), nil
}

// goBuild builds the three commands, static, without the tree's path,
// with the VCS stamp (a clean clone: a plain .git directory).
func goBuild(ctx context.Context, tree, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=true", "-ldflags=-s -w -buildid=",
		"-o", bin+"/", "./cmd/lbd", "./cmd/lbrs", "./cmd/lbctl")
	cmd.Dir = tree
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// generate writes the man pages (gzipped, as Debian ships them), the
// completion and the Debian changelog into b.gen.
func (b *built) generate() error {
	ref, err := os.ReadFile(filepath.Join(b.tree, "docs", "config.md"))
	if err != nil {
		return err
	}
	man := filepath.Join(b.gen, "man")
	if err := manpage.Generate(man, b.bin, string(ref), b.time.Format("2006-01-02"), "lb "+b.version); err != nil {
		return err
	}
	for _, f := range manpage.Files {
		if strings.HasSuffix(f, ".bash") {
			continue
		}
		if err := gzipFile(filepath.Join(man, f), filepath.Join(man, f+".gz")); err != nil {
			return err
		}
	}
	for _, name := range []string{"lbd", "lbrs"} {
		log := fmt.Sprintf("%s (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n",
			name, b.version, b.commit, maintainer, b.time.Format(time.RFC1123Z))
		tmp := filepath.Join(b.gen, name+".changelog")
		if err := os.WriteFile(tmp, []byte(log), 0o644); err != nil {
			return err
		}
		if err := gzipFile(tmp, tmp+".gz"); err != nil {
			return err
		}
	}
	return nil
}

// gzipFile compresses src into dst with no name and no time in the header
// (reproducible), at the best compression (lintian).
func gzipFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}
