package realserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lvsd/lb/internal/boundedfile"
	"golang.org/x/sys/unix"
)

// stateVersion is the state file format version.
const stateVersion = 1

// State is what the agent found before it changed anything: the record
// Restore works from. It is written (atomically) before each change.
type State struct {
	Version int `json:"version"`
	// Sysctls holds the value each managed key had when the agent first
	// saw it.
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// Addresses holds every managed VIP address, and whether it was already
	// there before the agent (such an address is left on restore).
	Addresses []AddrRecord `json:"addresses,omitempty"`
	// Links holds every managed device: whether it was up, and whether the
	// agent created it.
	Links map[string]LinkRecord `json:"links,omitempty"`
}

// AddrRecord is one managed VIP address.
type AddrRecord struct {
	Link        string       `json:"link"`
	Prefix      netip.Prefix `json:"prefix"`
	Label       string       `json:"label,omitempty"`
	Preexisting bool         `json:"preexisting,omitempty"`
}

// LinkRecord is one managed device.
type LinkRecord struct {
	WasUp   bool `json:"was_up"`
	Created bool `json:"created,omitempty"`
}

// Empty reports whether the state records nothing.
func (s State) Empty() bool {
	return len(s.Sysctls) == 0 && len(s.Addresses) == 0 && len(s.Links) == 0
}

func (s State) clone() State {
	c := State{Version: stateVersion, Addresses: slices.Clone(s.Addresses)}
	if len(s.Sysctls) > 0 {
		c.Sysctls = make(map[string]string, len(s.Sysctls))
		for k, v := range s.Sysctls {
			c.Sysctls[k] = v
		}
	}
	if len(s.Links) > 0 {
		c.Links = make(map[string]LinkRecord, len(s.Links))
		for k, v := range s.Links {
			c.Links[k] = v
		}
	}
	return c
}

func (s *State) setSysctl(key, orig string) {
	if s.Sysctls == nil {
		s.Sysctls = map[string]string{}
	}
	s.Sysctls[key] = orig
}

func (s *State) setLink(name string, r LinkRecord) {
	if s.Links == nil {
		s.Links = map[string]LinkRecord{}
	}
	s.Links[name] = r
}

// addr finds the record for an address on a device.
func (s State) addr(link string, ip netip.Addr) (AddrRecord, int) {
	for i, r := range s.Addresses {
		if r.Link == link && r.Prefix.Addr() == ip {
			return r, i
		}
	}
	return AddrRecord{}, -1
}

// equal compares two states by content.
func (s State) equal(o State) bool {
	a, _ := json.Marshal(s.canonical())
	b, _ := json.Marshal(o.canonical())
	return string(a) == string(b)
}

func (s State) canonical() State {
	c := s.clone()
	slices.SortFunc(c.Addresses, func(a, b AddrRecord) int {
		if d := strings.Compare(a.Link, b.Link); d != 0 {
			return d
		}
		return a.Prefix.Addr().Compare(b.Prefix.Addr())
	})
	return c
}

// LoadState reads the state file; a missing file is an empty state. A file
// lbrs refuses (not a regular file, larger than maxStateSize, not the JSON
// lbrs writes, or holding a record lbrs would never have written) is an
// error wrapping ErrBadState that names the file and what is wrong.
func LoadState(path string) (State, error) {
	b, err := readState(path)
	if errors.Is(err, os.ErrNotExist) {
		return State{Version: stateVersion}, nil
	}
	if err != nil {
		return State{}, err
	}
	var s State
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return State{}, fmt.Errorf("%w: %s: not a state file lbrs wrote: %v (%s)", ErrBadState, path, err, stateHint)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return State{}, fmt.Errorf("%w: %s: data after the JSON object (%s)", ErrBadState, path, stateHint)
	}
	var p problems
	s.validate(&p)
	if err := p.err(path); err != nil {
		return State{}, err
	}
	return s, nil
}

// readState reads a regular file of at most maxStateSize bytes, without
// blocking (a FIFO in its place would wait for a writer forever).
func readState(path string) ([]byte, error) {
	b, err := boundedfile.Read(path, maxStateSize)
	switch {
	case err == nil, errors.Is(err, os.ErrNotExist):
		return b, err
	case errors.Is(err, boundedfile.ErrTooLarge):
		return nil, fmt.Errorf("%w: %s: larger than %d bytes, more than lbrs ever writes (%s)", ErrBadState, path, maxStateSize, stateHint)
	case errors.Is(err, boundedfile.ErrNotRegular):
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%w: %s: %v (%s)", ErrBadState, path, err, stateHint)
	}
	return nil, fmt.Errorf("read state file: %w", err)
}

// SaveState writes the state file atomically (temporary file, fsync,
// rename, fsync of the directory). An empty state removes the file.
func SaveState(path string, s State) error {
	if s.Empty() {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove state file: %w", err)
		}
		return nil
	}
	s = s.canonical()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("create temporary state file: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write state file: %w", werr)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace state file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// ErrLocked is returned by LockState when another process holds the lock.
var ErrLocked = errors.New("state file is locked by another lbrs process")

// LockState takes an exclusive advisory lock (flock) next to the state
// file, PATH.lock, so a one-shot apply/restore cannot race a running daemon.
// The kernel drops the lock when the process dies. The returned function
// releases it.
func LockState(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s.lock: %w (is the lbrs service running? stop it instead)", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s.lock: %w", path, err)
	}
	return func() { f.Close() }, nil
}
