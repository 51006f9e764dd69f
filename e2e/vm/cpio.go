package vm

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// entryKind is what an image entry is.
type entryKind int

const (
	kindDir entryKind = iota
	kindFile
	kindSymlink
	kindCharDev
)

// entry is one file of the initramfs. A file's content comes from src (a
// host file, read when the archive is written) or from data.
type entry struct {
	path   string // absolute path in the image, cleaned
	kind   entryKind
	perm   fs.FileMode // Unix permission bits as written (0o1777 keeps the sticky bit)
	src    string
	data   []byte
	target string // symlink target
	major  uint32 // device numbers of a character device
	minor  uint32
}

// tree is the content of an initramfs, keyed by path. Adding a path twice
// replaces the earlier entry, so later layers (real tools) override earlier
// ones (busybox applet links).
type tree struct {
	entries map[string]*entry
}

func newTree() *tree { return &tree{entries: map[string]*entry{}} }

func cleanImagePath(p string) string { return path.Clean("/" + p) }

func (t *tree) add(e *entry) {
	e.path = cleanImagePath(e.path)
	t.entries[e.path] = e
}

func (t *tree) addDir(p string, perm fs.FileMode) {
	t.add(&entry{path: p, kind: kindDir, perm: perm})
}

func (t *tree) addFile(p, src string, perm fs.FileMode) {
	t.add(&entry{path: p, kind: kindFile, src: src, perm: perm})
}

func (t *tree) addData(p string, data []byte, perm fs.FileMode) {
	t.add(&entry{path: p, kind: kindFile, data: data, perm: perm})
}

func (t *tree) addSymlink(p, target string) {
	t.add(&entry{path: p, kind: kindSymlink, target: target, perm: 0o777})
}

func (t *tree) addCharDev(p string, major, minor uint32, perm fs.FileMode) {
	t.add(&entry{path: p, kind: kindCharDev, major: major, minor: minor, perm: perm})
}

func (t *tree) has(p string) bool {
	_, ok := t.entries[cleanImagePath(p)]
	return ok
}

// sorted returns every entry, parents before children, adding the missing
// parent directories (the kernel's unpacker does not create them).
func (t *tree) sorted() []*entry {
	all := map[string]*entry{}
	for p, e := range t.entries {
		all[p] = e
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := all[d]; ok {
				continue
			}
			if ex, ok := t.entries[d]; ok {
				all[d] = ex
			} else {
				all[d] = &entry{path: d, kind: kindDir, perm: 0o755}
			}
		}
	}
	out := make([]*entry, 0, len(all))
	for _, e := range all {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return pathLess(out[i].path, out[j].path) })
	return out
}

// pathLess orders paths component by component, so a directory always
// comes before what it holds ("/a" < "/a/b" < "/a-b").
func pathLess(a, b string) bool {
	ac := strings.Split(strings.TrimPrefix(a, "/"), "/")
	bc := strings.Split(strings.TrimPrefix(b, "/"), "/")
	for i := 0; i < len(ac) && i < len(bc); i++ {
		if ac[i] != bc[i] {
			return ac[i] < bc[i]
		}
	}
	return len(ac) < len(bc)
}

// hash is a digest of the whole tree: paths, kinds, modes, link targets and
// file contents. Equal hashes mean byte-identical archives.
func (t *tree) hash() (string, error) {
	h := sha256.New()
	for _, e := range t.sorted() {
		fmt.Fprintf(h, "%s\x00%d\x00%o\x00%s\x00%d:%d\x00", e.path, e.kind, e.perm, e.target, e.major, e.minor)
		if e.kind != kindFile {
			continue
		}
		if e.src == "" {
			fmt.Fprintf(h, "%d\x00", len(e.data))
			h.Write(e.data)
			continue
		}
		f, err := os.Open(e.src)
		if err != nil {
			return "", fmt.Errorf("hashing %s for %s: %w", e.src, e.path, err)
		}
		st, err := f.Stat()
		if err == nil {
			fmt.Fprintf(h, "%d\x00", st.Size())
			_, err = io.Copy(h, f)
		}
		f.Close()
		if err != nil {
			return "", fmt.Errorf("hashing %s for %s: %w", e.src, e.path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeCPIO writes the tree as a cpio archive in the "newc" format the
// kernel's initramfs unpacker reads.
func (t *tree) writeCPIO(w io.Writer) error {
	cw := &cpioWriter{w: w}
	for _, e := range t.sorted() {
		if err := cw.writeEntry(e); err != nil {
			return fmt.Errorf("writing %s to the initramfs: %w", e.path, err)
		}
	}
	return cw.close()
}

// cpioWriter writes newc records: a 110-byte ASCII header, the NUL
// terminated name padded to 4 bytes, the data padded to 4 bytes.
type cpioWriter struct {
	w   io.Writer
	n   int64
	ino uint32
}

const (
	cpioModeDir  = 0o040000
	cpioModeFile = 0o100000
	cpioModeLink = 0o120000
	cpioModeChr  = 0o020000
)

func (c *cpioWriter) write(b []byte) error {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return err
}

func (c *cpioWriter) pad() error {
	if r := c.n % 4; r != 0 {
		return c.write(make([]byte, 4-r))
	}
	return nil
}

func (c *cpioWriter) header(name string, mode uint32, nlink uint32, size int64, rmajor, rminor uint32) error {
	if size > 0xffffffff {
		return fmt.Errorf("%s is %d bytes: newc cpio holds at most 4 GiB per file", name, size)
	}
	c.ino++
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, uint32(size), 0, 0, rmajor, rminor, len(name)+1, 0)
	if err := c.write([]byte(hdr)); err != nil {
		return err
	}
	if err := c.write(append([]byte(name), 0)); err != nil {
		return err
	}
	return c.pad()
}

func (c *cpioWriter) writeEntry(e *entry) error {
	name := strings.TrimPrefix(e.path, "/")
	perm := uint32(e.perm) & 0o7777 // raw Unix bits: callers write 0o1777 for sticky
	switch e.kind {
	case kindDir:
		return c.header(name, cpioModeDir|perm, 2, 0, 0, 0)
	case kindSymlink:
		if err := c.header(name, cpioModeLink|0o777, 1, int64(len(e.target)), 0, 0); err != nil {
			return err
		}
		if err := c.write([]byte(e.target)); err != nil {
			return err
		}
		return c.pad()
	case kindCharDev:
		return c.header(name, cpioModeChr|perm, 1, 0, e.major, e.minor)
	case kindFile:
		if e.src == "" {
			if err := c.header(name, cpioModeFile|perm, 1, int64(len(e.data)), 0, 0); err != nil {
				return err
			}
			if err := c.write(e.data); err != nil {
				return err
			}
			return c.pad()
		}
		f, err := os.Open(e.src)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if err := c.header(name, cpioModeFile|perm, 1, st.Size(), 0, 0); err != nil {
			return err
		}
		n, err := io.Copy(c.w, f)
		c.n += n
		if err != nil {
			return err
		}
		if n != st.Size() {
			return fmt.Errorf("%s changed size while being copied", e.src)
		}
		return c.pad()
	}
	return errors.New("unknown entry kind")
}

func (c *cpioWriter) close() error {
	return c.header("TRAILER!!!", 0, 1, 0, 0, 0)
}
