package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/lvsd/lb/director/control"
)

func TestReloadDryRun(t *testing.T) {
	changed := control.Plan{Against: "running lbd", ConfigFile: "/etc/lbd/lbd.yaml",
		Writes: []control.PlanWrite{
			{Rule: "-A -t 10.0.0.100:80 -s wlc"},
			{Rule: "-a -t 10.0.0.100:80 -r 10.1.0.1:80 -g -w 1"},
			{Rule: "-e -t 10.0.0.1:80 -r 10.1.0.2:80 -g -w 0", Changes: []string{"weight 1 -> 0"}},
		},
		VRRPRestart: []string{"VI_1"}, VRRPKeep: []string{"VI_2"}, ChecksAdd: []string{"TCP 10.0.0.100:80 10.1.0.1:80 tcp#0"}, ChecksKeep: 4}
	tests := []struct {
		name     string
		args     []string
		plan     *control.Plan
		err      error
		wantCode int
		want     []string // substrings of stdout
		wantErr  string
	}{
		{name: "changes", args: []string{"reload", "--dry-run"}, plan: &changed, wantCode: 1, want: []string{
			"# plan of /etc/lbd/lbd.yaml against the running lbd\n-A -t 10.0.0.100:80 -s wlc\n-a -t 10.0.0.100:80 -r 10.1.0.1:80 -g -w 1\n" +
				"-e -t 10.0.0.1:80 -r 10.1.0.2:80 -g -w 0\t# weight 1 -> 0\n",
			"vrrp: restart VI_1\nvrrp: keep VI_2\ncheck: add TCP 10.0.0.100:80 10.1.0.1:80 tcp#0\n",
			"Plan: 3 IPVS writes (2 add, 1 change, 0 remove), 0 settings; VRRP: 0 start, 1 restart, 0 stop, 1 kept; checks: 1 add, 0 remove, 4 kept.\n"}},
		{name: "no changes", args: []string{"reload", "--dry-run"}, plan: &control.Plan{Against: "running lbd", VRRPKeep: []string{"VI_1"}},
			wantCode: 0, want: []string{"checks: 0 add, 0 remove, 0 kept: no changes."}},
		{name: "refused", args: []string{"reload", "--dry-run"}, plan: &control.Plan{Refused: "removal guard: no", Writes: []control.PlanWrite{{Rule: "-D -t 10.0.0.1:80"}}},
			wantCode: 3, want: []string{"-D -t 10.0.0.1:80\n", "REFUSED: removal guard: no\n", "REFUSED by the removal guard."}},
		{name: "invalid file", args: []string{"reload", "--dry-run"}, err: errors.New("lbd.yaml:3: bad"), wantCode: 3, wantErr: "lbd.yaml:3: bad"},
		{name: "usage", args: []string{"reload", "--dry-run", "x"}, wantCode: 2, wantErr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEnv{running: true}
			e := f.env()
			var got control.ReloadRequest
			e.reload = func(_ context.Context, _ string, req control.ReloadRequest) (control.ReloadResult, error) {
				got = req
				return control.ReloadResult{Plan: tt.plan}, tt.err
			}
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb, e)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.wantCode, errb.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tt.wantErr)
			}
			if tt.plan != nil && !got.DryRun {
				t.Errorf("request %+v is not a dry run", got)
			}
		})
	}
	// --json: the plan as JSON.
	f := &fakeEnv{running: true}
	e := f.env()
	e.reload = func(context.Context, string, control.ReloadRequest) (control.ReloadResult, error) {
		return control.ReloadResult{Plan: &changed}, nil
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"reload", "--dry-run", "--json"}, &out, &bytes.Buffer{}, e); code != 1 {
		t.Errorf("--json exit %d", code)
	}
	var p control.Plan
	if err := json.Unmarshal(out.Bytes(), &p); err != nil || len(p.Writes) != 3 || p.Writes[2].Changes[0] != "weight 1 -> 0" {
		t.Errorf("--json: %v %+v", err, p)
	}
}
