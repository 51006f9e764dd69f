package table

import (
	"encoding/json"
	"testing"
)

func TestDaemonJSONRoundTrip(t *testing.T) {
	for _, st := range []DaemonState{DaemonMaster, DaemonBackup, DaemonState(7)} {
		in := Daemon{State: st, Interface: "eth0", SyncID: 51}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out Daemon
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: unmarshal %s: %v", st, b, err)
		}
		if out != in {
			t.Errorf("round trip of %s gave %+v, want %+v", b, out, in)
		}
	}
	for _, bad := range []string{`"primary"`, `"state(x)"`, `"state(1)x"`} {
		var s DaemonState
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("unmarshal %s: no error, got %v", bad, s)
		}
	}
}
