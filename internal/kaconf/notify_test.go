package kaconf

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lb/internal/config"
)

// TestNotifyFixture: testdata/notify.conf, which uses every notification
// keyword the importer maps, imports with nothing unmapped into the
// notify section and the instances' and groups' smtp_alert; the written
// lbd.yaml loads back to the same.
func TestNotifyFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/notify.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range notifyGlobal {
		if !strings.Contains(string(data), "   "+k+" ") && !strings.Contains(string(data), "   "+k+"\n") {
			t.Errorf("testdata/notify.conf does not use %s", k)
		}
	}
	res, err := ConvertFile("testdata/notify.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unmapped) > 0 {
		t.Errorf("unmapped %v", res.Unmapped)
	}
	want := config.Notify{
		FIFO: "/run/keepalived/notify.fifo", FIFOScript: config.Argv{"/usr/local/bin/fifo-reader"},
		VRRPFIFO: "/run/keepalived/vrrp.fifo", VRRPFIFOScript: config.Argv{"/usr/local/bin/fifo-reader", "--vrrp"}, PriorityChanges: true,
		Email: config.Email{To: []string{"ops@example.com", "oncall@example.com"}, From: "lb1@example.com",
			SMTPServer: "192.0.2.25 2525", ConnectTimeout: 10 * time.Second, HELOName: "lb1.example.com",
			Alert: false}, // smtp_alert_vrrp false overrides smtp_alert for VRRP
	}
	if diff := cmp.Diff(want, res.Director.Notify); diff != "" {
		t.Errorf("notify (-want +got):\n%s", diff)
	}
	back, err := config.ParseDirector("lbd.yaml", res.YAML)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, back.Notify); diff != "" {
		t.Errorf("lbd.yaml loads back a different notify (-want +got):\n%s", diff)
	}
	vi1, vi2 := back.VRRP.Instance("VI_1"), back.VRRP.Instance("VI_2")
	if vi1.SMTPAlert == nil || !*vi1.SMTPAlert || vi2.SMTPAlert != nil {
		t.Errorf("smtp_alert VI_1 %v VI_2 %v, want true and unset", vi1.SMTPAlert, vi2.SMTPAlert)
	}
	if g := back.VRRP.SyncGroups; len(g) != 1 || g[0].SMTPAlert == nil || !*g[0].SMTPAlert {
		t.Errorf("sync group %+v, want smtp_alert true", g)
	}
}

// TestNotifyKeywords: the forms keepalived accepts, and what it ignores.
func TestNotifyKeywords(t *testing.T) {
	for _, tc := range []struct {
		name, global string
		check        func(config.Notify) bool
		unmapped     []string
		note         string
	}{
		{"smtp_server without port", "smtp_server mail.example.com", func(n config.Notify) bool { return n.Email.SMTPServer == "mail.example.com" }, nil, ""},
		{"smtp_alert alone is the default", "smtp_alert", func(n config.Notify) bool { return n.Email.Alert }, nil, ""},
		{"addresses without a server are not mailed", "notification_email {\n a@b\n}",
			func(n config.Notify) bool { return len(n.Email.To) == 0 }, nil, "keepalived sends no mail"},
		{"FIFO owner", "vrrp_notify_fifo /run/f root root", func(n config.Notify) bool { return n.VRRPFIFO == "/run/f" },
			[]string{"3:root root"}, ""},
		{"the same FIFO twice", "notify_fifo /run/f\n vrrp_notify_fifo /run/f",
			func(n config.Notify) bool { return n.FIFO == "/run/f" && n.VRRPFIFO == "" }, nil, "imported once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := convert(t, "global_defs {\n router_id r\n "+tc.global+"\n}\n")
			if !tc.check(res.Director.Notify) {
				t.Errorf("notify %+v", res.Director.Notify)
			}
			if got := issueKeys(res); !slices.Equal(got, tc.unmapped) {
				t.Errorf("unmapped %q, want %q", got, tc.unmapped)
			}
			if tc.note != "" && !hasNote(res, tc.note) {
				t.Errorf("no note %q: %v", tc.note, res.Notes)
			}
		})
	}
}
