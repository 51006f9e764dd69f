package kaconf

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lvsd/lb/internal/config"
)

// sampleUnmapped is, for each of keepalived's sample configurations
// (testdata/samples, see its README), the keywords the import reports as
// not mapped, one entry per report. Every other sample converts with
// nothing unmapped. Each entry is one of:
//   - deliberate: documented in docs/keepalived-mapping.md ("Reported, not
//     mapped") with its reason;
//   - todo: a keepalived feature lbd does not have yet (issue 14), which
//     shrinks this table when it lands: delete the entry then;
//   - sample: a mistake in the sample that keepalived ignores too.
var sampleUnmapped = map[string][]string{
	"keepalived.conf.SSL_GET":              {"auth_type"},                       // deliberate: AH authentication
	"keepalived.conf.conditional_conf":     {"net_namespace"},                   // deliberate: net_namespace (run lbd in it)
	"keepalived.conf.virtual_server_group": {"real_server"},                     // deliberate: a real server at its own VIP (group member 192.168.200.1 1358)
	"keepalived.conf.vrrp":                 {"192.168.200.18"},                  // sample: the same VIP twice
	"keepalived.conf.vrrp.lvs_syncd":       {"vrrp_sync_group", "VI_2", "VI_3"}, // sample: sync group without "group {}"
	"keepalived.conf.vrrp.routes":          {"192.168.113.0/24"},                // deliberate: a virtual route with alternative gateways (or)
	"keepalived.conf.vrrp.rules":           {"to", "to"},                        // sample: "192.168.100./24" is not an address (keepalived skips the line too)
}

// sampleConfigIDs are the config ids a sample is converted for (keepalived
// -i); the others are converted without one.
var sampleConfigIDs = map[string][]string{
	"keepalived.conf.conditional_conf": {"high", "low"},
}

// Every keepalived sample configuration converts, the converted file passes
// lbd's own check (config.LoadDirector, as "lbd check"), and what is not
// imported is exactly sampleUnmapped.
func TestKeepalivedSamples(t *testing.T) {
	files, err := filepath.Glob("testdata/samples/keepalived.conf.*")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 25 {
		t.Fatalf("%d samples in testdata/samples, want keepalived 2.4.3's 25", len(files))
	}
	for name := range sampleUnmapped {
		if !slices.Contains(files, "testdata/samples/"+name) {
			t.Errorf("sampleUnmapped names %s, which is not a sample", name)
		}
	}
	for _, file := range files {
		base := filepath.Base(file)
		ids := sampleConfigIDs[base]
		if ids == nil {
			ids = []string{""}
		}
		for _, id := range ids {
			t.Run(strings.TrimPrefix(base, "keepalived.conf.")+"/"+id, func(t *testing.T) {
				checkSample(t, file, id, sampleUnmapped[base])
			})
		}
	}
}

func checkSample(t *testing.T, file, id string, want []string) {
	res, err := ConvertFile(file, &Options{ConfigID: id})
	if err != nil {
		t.Fatalf("does not convert: %v", err)
	}
	out := filepath.Join(t.TempDir(), "lbd.yaml")
	if err := os.WriteFile(out, res.YAML, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := config.LoadDirector(out)
	if err != nil {
		t.Fatalf("lbd check fails on the converted file: %v", err)
	}
	var got []string
	for _, i := range res.Unmapped {
		got = append(got, i.Keyword)
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("unmapped %q, want %q:\n%v", got, want, res.Unmapped)
	}
	t.Logf("%d instances, %d virtual servers, %d unmapped, %d notes", len(d.VRRP.Instances), len(d.VirtualServers), len(res.Unmapped), len(res.Notes))
}
