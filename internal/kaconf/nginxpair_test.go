package kaconf

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/vrrp"
)

// misspelt is the one keyword of the seed's nginx pair that stays
// unmapped: keepalived rejects lvs_sync_daemon_inteface too. (Its empty
// notification_email block and notification_email_from are imported.)
const misspelt = "lvs_sync_daemon_inteface"

// The seed's nginx pair, VRRP-only (testdata/seed-nginx-*.conf), imports
// into the shipped example deploy/examples/lbd-nginx-pair.yaml: the same
// VRRP section, master as the file is, backup with the three lines its
// comments name; nothing else of the keepalived.conf is lost but the
// seed's misspelt keyword.
func TestSeedNginxPair(t *testing.T) {
	example, err := config.LoadDirector("../../deploy/examples/lbd-nginx-pair.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		file      string
		state     vrrp.StartState
		prio      int
		nopreempt bool
	}{
		{"seed-nginx-master.conf", vrrp.StartMaster, 200, false},
		{"seed-nginx-backup.conf", vrrp.StartBackup, 100, true},
	} {
		t.Run(tt.file, func(t *testing.T) {
			res, err := ConvertFile("testdata/"+tt.file, nil)
			if err != nil {
				t.Fatal(err)
			}
			var unmapped []string
			for _, i := range res.Unmapped {
				unmapped = append(unmapped, i.Keyword)
				if i.Keyword != misspelt {
					t.Errorf("not imported: %s", i)
				}
			}
			if !slices.Contains(unmapped, misspelt) {
				t.Errorf("the misspelt lvs_sync_daemon_inteface was not reported: %v", unmapped)
			}
			// The YAML written is a valid lbd.yaml (what lbd check reads).
			d, err := config.ParseDirector(tt.file+".yaml", res.YAML)
			if err != nil {
				t.Fatalf("the imported YAML does not load: %v\n%s", err, res.YAML)
			}
			if len(d.VirtualServers) != 0 || d.IPVS.SyncDaemon != nil {
				t.Errorf("not VRRP-only: %d virtual servers, sync daemon %+v", len(d.VirtualServers), d.IPVS.SyncDaemon)
			}
			if len(d.VRRP.Scripts) != 1 {
				t.Fatalf("scripts %+v", d.VRRP.Scripts)
			}
			s := d.VRRP.Scripts[0]
			if s.Name != "chk_nginx" || s.Interval != time.Second || s.Timeout != time.Second || s.Fall != 1 || s.Rise != 1 ||
				s.Weight != 0 || !slices.Equal(s.Command, []string{"/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/80"}) {
				t.Errorf("script %+v", s)
			}
			want := nginxExampleAs(example.VRRP, tt.state, tt.prio, tt.nopreempt)
			if diff := cmp.Diff(want, normalizeTrackWeights(d.VRRP), cmpAddr, cmpPrefix); diff != "" {
				t.Errorf("imported VRRP section differs from deploy/examples/lbd-nginx-pair.yaml's (-example +imported):\n%s", diff)
			}
		})
	}
}

// nginxExampleAs is the example's VRRP section with the backup's lines
// changed as its comments say.
func nginxExampleAs(s vrrp.Set, state vrrp.StartState, prio int, nopreempt bool) vrrp.Set {
	s.Instances = slices.Clone(s.Instances)
	in := &s.Instances[0]
	in.InitialState, in.Priority, in.NoPreempt = state, prio, nopreempt
	return normalizeTrackWeights(s)
}

// normalizeTrackWeights writes out each track script's weight (nil means
// the script's own), so an explicit weight and an inherited one compare equal.
func normalizeTrackWeights(s vrrp.Set) vrrp.Set {
	s.Instances = slices.Clone(s.Instances)
	for i := range s.Instances {
		ts := slices.Clone(s.Instances[i].TrackScripts)
		for j := range ts {
			if ts[j].Weight != nil {
				continue
			}
			for _, sc := range s.Scripts {
				if sc.Name == ts[j].Name {
					w := sc.Weight
					ts[j].Weight = &w
				}
			}
		}
		s.Instances[i].TrackScripts = ts
	}
	return s
}
