package director_test

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/director/table/tabletest"
)

// Removals names what an apply would remove, exactly as the apply's diff
// removes it (managed services, every service with purge), without
// writing; it reads the kernel's service list only when something managed
// may go.
func TestRemovals(t *testing.T) {
	seed := seedTable() // TCP 192.168.56.90:80 and TCP 192.168.56.91:80
	web, nat := seed.Services[0].Key(), seed.Services[1].Key()
	foreign := tabletest.Service(table.ProtoTCP, "203.0.113.1:80", "rr")
	other := tabletest.Service(table.ProtoUDP, "192.168.56.92:53", "rr").Key()
	tests := []struct {
		name        string
		purge       bool
		gone        bool // the NAT service was deleted behind lbd's back
		desired     []table.ServiceKey
		wantRemoved []table.ServiceKey
		wantManaged int
		wantRead    bool
	}{
		{name: "same services: no read", desired: []table.ServiceKey{web, nat}, wantManaged: 2},
		{name: "one added: no read", desired: []table.ServiceKey{web, nat, other}, wantManaged: 2},
		{name: "one of two", desired: []table.ServiceKey{web}, wantRemoved: []table.ServiceKey{nat}, wantManaged: 2, wantRead: true},
		{name: "all", desired: nil, wantRemoved: []table.ServiceKey{web, nat}, wantManaged: 2, wantRead: true},
		{name: "replaced", desired: []table.ServiceKey{other}, wantRemoved: []table.ServiceKey{web, nat}, wantManaged: 2, wantRead: true},
		{name: "a managed service the kernel lost is not counted", gone: true, desired: nil,
			wantRemoved: []table.ServiceKey{web}, wantManaged: 1, wantRead: true},
		{name: "purge counts the foreign service", purge: true, desired: []table.ServiceKey{web, nat},
			wantRemoved: []table.ServiceKey{foreign.Key()}, wantManaged: 3, wantRead: true},
		{name: "purge, all", purge: true, desired: nil,
			wantRemoved: []table.ServiceKey{web, nat, foreign.Key()}, wantManaged: 3, wantRead: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := fake.New()
			k.Load(table.Table{Services: []table.Service{foreign}})
			r, _ := newRec(t, k, func(c *director.ReconcilerConfig) { c.Purge = tt.purge })
			mustApply(t, r, seed) // with purge, removes foreign
			if tt.purge {
				// A foreign service added by hand since.
				k.Load(table.Table{Services: append(seedTable().Services, foreign)})
			}
			if tt.gone {
				if err := k.RemoveService(seed.Services[1]); err != nil {
					t.Fatal(err)
				}
			}
			k.ResetCounters()
			read := false
			k.FailRead = func(string) error { read = true; return nil }
			removed, managed, err := r.Removals(tt.desired)
			if err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(tt.wantRemoved, table.ServiceKey.Compare)
			if !slices.Equal(removed, tt.wantRemoved) || (len(removed) > 0 && managed != tt.wantManaged) {
				t.Errorf("Removals = %v of %d managed, want %v of %d", removed, managed, tt.wantRemoved, tt.wantManaged)
			}
			if read != tt.wantRead {
				t.Errorf("read the kernel: %v, want %v", read, tt.wantRead)
			}
			if k.Writes() != 0 {
				t.Errorf("Removals wrote: %v", k.Log())
			}
		})
	}
}

// At start the managed services are the store's: a service lbd never put
// in the kernel is not lbd's to remove (nor to count).
func TestRemovalsAtStartFromTheStore(t *testing.T) {
	store := director.FileStore{Path: filepath.Join(t.TempDir(), "ipvs-managed.json")}
	k := fake.New()
	r, _ := newRec(t, k, func(c *director.ReconcilerConfig) { c.Store = store })
	mustApply(t, r, seedTable())
	foreign := tabletest.Service(table.ProtoTCP, "203.0.113.1:80", "rr")
	if err := k.CreateService(foreign); err != nil {
		t.Fatal(err)
	}
	// A new process, an empty configuration.
	r2, _ := newRec(t, k, func(c *director.ReconcilerConfig) { c.Store = store })
	removed, managed, err := r2.Removals(nil)
	if err != nil {
		t.Fatal(err)
	}
	seed := seedTable()
	if want := []table.ServiceKey{seed.Services[0].Key(), seed.Services[1].Key()}; !slices.Equal(removed, want) || managed != 2 {
		t.Errorf("Removals at start = %v of %d, want %v of 2", removed, managed, want)
	}
	// Without a store nothing is lbd's at start.
	r3, _ := newRec(t, k, nil)
	if removed, _, err := r3.Removals(nil); err != nil || len(removed) != 0 {
		t.Errorf("Removals without a store = %v, %v; want none", removed, err)
	}
	// A kernel that cannot be read is an error, not "nothing to remove".
	k.FailRead = func(string) error { return errors.New("netlink down") }
	if _, _, err := r2.Removals(nil); err == nil {
		t.Error("Removals with an unreadable kernel: no error")
	}
}
