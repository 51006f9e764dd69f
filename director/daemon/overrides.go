package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/events"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/internal/boundedfile"
)

// The operators' overrides (lbctl drain, undrain, maintenance,
// drain-director) live in the Manager (real servers) and the daemon
// (director), and in STATE_DIR/overrides.json so that they survive reloads
// and restarts. The file is written atomically after each change and read
// back at start as untrusted input: a file that does not parse, or holds
// an unknown state, a bad address or a service that is not one, stops the
// start with an error naming the file and the record (fix or remove it).

// overridesFileName is the file in global.state_dir.
const overridesFileName = "overrides.json"

// maxOverridesFile bounds the file read back (64 bytes a record: about
// 60,000 overridden real servers).
const maxOverridesFile = 4 << 20

// overridesVersion is the file's format.
const overridesVersion = 1

type overridesDoc struct {
	Version  int              `json:"version"`
	Servers  []overrideRecord `json:"servers"`
	Director *directorRecord  `json:"director,omitempty"`
}

// overrideRecord is one real server's override, in the forms lbctl and
// status use.
type overrideRecord struct {
	Service string    `json:"service"` // "TCP 10.0.0.100:80"
	Server  string    `json:"server"`  // "10.0.0.11:80"
	State   string    `json:"state"`   // drain | maintenance
	Since   time.Time `json:"since"`
}

// directorRecord is the director's drain (lbctl drain-director).
type directorRecord struct {
	Drained bool      `json:"drained"`
	Since   time.Time `json:"since,omitzero"`
}

// overrideStore is the file and what it holds.
type overrideStore struct {
	path string

	mu       sync.Mutex // guards what follows
	servers  map[director.RealServerID]director.Override
	director directorRecord
}

// loadOverrides reads STATE_DIR/overrides.json; a missing file is no
// override.
func loadOverrides(stateDir string) (*overrideStore, error) {
	s := &overrideStore{path: filepath.Join(stateDir, overridesFileName), servers: map[director.RealServerID]director.Override{}}
	b, err := boundedfile.Read(s.path, maxOverridesFile)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the operators' overrides: %w", err)
	}
	if s.servers, s.director, err = parseOverrides(b); err != nil {
		return nil, fmt.Errorf("%s: %w (fix or remove the file: it holds lbctl drain and maintenance states)", s.path, err)
	}
	return s, nil
}

// parseOverrides checks and reads the file's content.
func parseOverrides(b []byte) (map[director.RealServerID]director.Override, directorRecord, error) {
	var doc overridesDoc
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, directorRecord{}, fmt.Errorf("not an overrides file: %w", err)
	}
	if doc.Version != overridesVersion {
		return nil, directorRecord{}, fmt.Errorf("version %d, want %d", doc.Version, overridesVersion)
	}
	out := make(map[director.RealServerID]director.Override, len(doc.Servers))
	for i, r := range doc.Servers {
		id, o, err := r.parse()
		if err != nil {
			return nil, directorRecord{}, fmt.Errorf("servers[%d]: %w", i, err)
		}
		if _, dup := out[id]; dup {
			return nil, directorRecord{}, fmt.Errorf("servers[%d]: %s %s listed twice", i, id.Service, r.Server)
		}
		out[id] = o
	}
	var dr directorRecord
	if doc.Director != nil {
		dr = *doc.Director
	}
	return out, dr, nil
}

func (r overrideRecord) parse() (director.RealServerID, director.Override, error) {
	key, err := control.ParseService(r.Service)
	if err != nil {
		return director.RealServerID{}, director.Override{}, err
	}
	ap, err := netip.ParseAddrPort(r.Server)
	if err != nil || !ap.Addr().IsValid() {
		return director.RealServerID{}, director.Override{}, fmt.Errorf("server %q: want ADDRESS:PORT", r.Server)
	}
	st := director.AdminState(r.State)
	if st == director.AdminNone || !st.Valid() {
		return director.RealServerID{}, director.Override{}, fmt.Errorf("state %q: want drain or maintenance", r.State)
	}
	id := director.RealServerID{Service: key, Address: ap.Addr().Unmap(), Port: ap.Port()}
	return id, director.Override{State: st, Since: r.Since}, nil
}

// snapshot is what the store holds.
func (s *overrideStore) snapshot() (map[director.RealServerID]director.Override, directorRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.servers), s.director
}

// save writes servers and dr when they differ from what the file holds
// (atomically: a temporary file renamed over it).
func (s *overrideStore) save(servers map[director.RealServerID]director.Override, dr directorRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if maps.Equal(servers, s.servers) && dr == s.director {
		return nil
	}
	doc := overridesDoc{Version: overridesVersion, Servers: []overrideRecord{}}
	ids := slices.SortedFunc(maps.Keys(servers), director.RealServerID.Compare)
	for _, id := range ids {
		o := servers[id]
		doc.Servers = append(doc.Servers, overrideRecord{Service: id.Service.String(),
			Server: netip.AddrPortFrom(id.Address, id.Port).String(), State: string(o.State), Since: o.Since.UTC()})
	}
	if dr.Drained {
		doc.Director = &dr
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the overrides: %w", err)
	}
	if err := writeAtomic(s.path, append(b, '\n')); err != nil {
		return err
	}
	s.servers, s.director = maps.Clone(servers), dr
	return nil
}

// writeAtomic writes b to path through a temporary file in its directory.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".overrides-*")
	if err != nil {
		return fmt.Errorf("save the overrides: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// persistOverrides saves the Manager's overrides when they changed (an
// override set, or a reload that removed an overridden server).
func (d *Daemon) persistOverrides(p *ipvsPart) error {
	_, dr := d.ovr.snapshot()
	if err := d.ovr.save(p.mgr.Overrides(), dr); err != nil {
		d.log.Error("saving the operators' overrides", "err", err)
		return err
	}
	return nil
}

// dropGoneOverrides drops the overrides of the real servers the apply
// removed and saves the result. A reload drops every one; a start or a
// discovery update keeps those of services with discovery (a member not
// listed yet at start, or gone for a while, keeps its drain when it comes
// back). The configuration in force is the apply's.
func (d *Daemon) dropGoneOverrides(p *ipvsPart, mode applyMode) {
	var keep func(director.RealServerID) bool
	if mode != applyReload {
		disc := map[table.ServiceKey]bool{}
		cfg := d.Config()
		for i := range cfg.VirtualServers {
			if vs := &cfg.VirtualServers[i]; vs.Discovery != nil {
				disc[ServiceKeyOf(vs)] = true
			}
		}
		keep = func(id director.RealServerID) bool { return disc[id.Service] }
	}
	p.mgr.DropGoneOverrides(keep)
	_ = d.persistOverrides(p) // logged on failure
}

// emitDrain records an override change in the event stream (from/to:
// drain, maintenance, none).
func (d *Daemon) emitDrain(subject, from, to string, writes int) {
	name := func(s string) string {
		if s == "" {
			return "none"
		}
		return s
	}
	msg := map[string]string{"drain": "drained by the operator", "maintenance": "in maintenance (operator)", "none": "override lifted by the operator"}[name(to)]
	d.Emit(events.Event{Kind: events.KindDrain, Subject: subject, Message: msg,
		Fields: map[string]string{"from": name(from), "to": name(to), "writes": fmt.Sprint(writes)}})
}

// adminStates maps lbctl's words to the Manager's states.
var adminStates = map[string]director.AdminState{
	"drain": director.AdminDrain, "maintenance": director.AdminMaintenance, "none": director.AdminNone, "": director.AdminNone,
}

// SetOverride implements control.Overrider: drain a real server, put it
// in maintenance or lift either, saved in the state directory before it
// answers. A bad request changes nothing.
func (d *Daemon) SetOverride(ctx context.Context, req control.OverrideRequest) (control.OverrideResult, error) {
	var res control.OverrideResult
	st, ok := adminStates[req.State]
	if !ok {
		return res, fmt.Errorf("state %q: want drain, maintenance or none", req.State)
	}
	key, err := control.ParseService(req.Service)
	if err != nil {
		return res, err
	}
	addr, port, err := control.ParseRealServer(key, req.Server)
	if err != nil {
		return res, err
	}
	id := director.RealServerID{Service: key, Address: addr, Port: port}
	res.Service, res.Address, res.Port = key, addr, port
	d.applyMu.Lock() // not while a reload changes the specs
	defer d.applyMu.Unlock()
	p := d.ipvsNow()
	if p == nil {
		return res, errVRRPOnly
	}
	before := p.mgr.Overrides()[id].State
	changed, ar, err := p.mgr.SetOverride(ctx, id, st)
	if err != nil && !changed {
		return res, err
	}
	if changed {
		d.log.Warn("real server override set by the operator", "service", key.String(), "server", serverString(id),
			"from", string(before), "to", string(st), "writes", ar.Writes)
		d.emitDrain(key.String()+" "+serverString(id), string(before), string(st), ar.Writes)
		if serr := d.persistOverrides(p); serr != nil {
			_, _, _ = p.mgr.SetOverride(ctx, id, before) // not saved: undone
			return res, fmt.Errorf("override not saved, undone: %w", serr)
		}
	}
	res.State, res.Changed = string(st), changed
	cr := ControlResult(ar)
	res.Apply = &cr
	return res, err
}
