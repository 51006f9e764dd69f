package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lb/vrrp"
)

// Tracked processes and files are vrrp's: lbd.yaml names them under
// vrrp.track_processes and vrrp.track_files, and an instance follows them
// by name, with the interface's reverse beside them.
func TestVRRPTrackProcessesAndFiles(t *testing.T) {
	y := src(`
vrrp:
  track_processes:
    nginx:
      process: nginx
      weight: -50
      quorum: 2
      quorum_max: 8
      delay: 1.5s
    java:
      process: [/usr/bin/java, -jar, app]
      param_match: initial
  track_files:
    prio:
      file: /run/lbd/prio
      weight: 10
      reverse: true
      init_file: 0
      init_file_overwrite: true
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddresses: [{address: 192.168.56.90}]
      track_interfaces:
        - {name: eth1, weight: 20, reverse: true}
      track_processes:
        - name: nginx
        - {name: java, weight: 0, reverse: true}
      track_files:
        - {name: prio, weight: -3}
`)
	d, err := ParseDirector("t.yaml", y)
	if err != nil {
		t.Fatal(err)
	}
	qmax, zero, yes, minus3, init := 8, 0, true, -3, 0
	wantProcs := []vrrp.ProcessConfig{
		{Name: "nginx", Process: []string{"nginx"}, Weight: -50, Quorum: 2, QuorumMax: &qmax,
			Delay: 1500 * time.Millisecond, ForkDelay: 1500 * time.Millisecond, TerminateDelay: 1500 * time.Millisecond},
		{Name: "java", Process: []string{"/usr/bin/java", "-jar", "app"}, ParamMatch: vrrp.ParamMatchInitial, FullCommand: true, Quorum: 1},
	}
	if diff := cmp.Diff(wantProcs, d.VRRP.TrackProcesses); diff != "" {
		t.Errorf("track_processes (-want +got):\n%s", diff)
	}
	wantFiles := []vrrp.FileConfig{{Name: "prio", Path: "/run/lbd/prio", Weight: 10, Reverse: true, InitFile: &init, InitFileOverwrite: true}}
	if diff := cmp.Diff(wantFiles, d.VRRP.TrackFiles); diff != "" {
		t.Errorf("track_files (-want +got):\n%s", diff)
	}
	in := d.VRRP.Instances[0]
	if diff := cmp.Diff([]vrrp.TrackProcess{{Name: "nginx"}, {Name: "java", Weight: &zero, Reverse: &yes}}, in.TrackProcesses); diff != "" {
		t.Errorf("instance track_processes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]vrrp.TrackFile{{Name: "prio", Weight: &minus3}}, in.TrackFiles); diff != "" {
		t.Errorf("instance track_files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]vrrp.TrackInterface{{Name: "eth1", Weight: 20, Reverse: true}}, in.TrackInterfaces); diff != "" {
		t.Errorf("track_interfaces (-want +got):\n%s", diff)
	}
}

func TestVRRPTrackErrors(t *testing.T) {
	_, err := ParseDirector("t.yaml", src(`
vrrp:
  track_processes:
    nginx:
      process: nginx
      param_match: fuzzy
      quorum: 0
  track_files:
    prio:
      file: run/prio
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddresses: [{address: 192.168.56.90}]
      track_processes:
        - name: haproxy
      track_files:
        - name: prio
          weight: 999
`))
	diffLines(t, errLines(t, err), []string{
		`t.yaml:5: vrrp.track_processes[nginx].param_match: unknown param_match "fuzzy" (want one of exact, partial, initial)`,
		`t.yaml:6: vrrp.track_processes[nginx].quorum: must be from 1 to 65535, got 0`,
		`t.yaml:9: vrrp.track_files[prio].file: must be an absolute path, got "run/prio"`,
		`t.yaml:16: vrrp.instances[VI_1].track_processes[0].name: unknown tracked process "haproxy" (define it under vrrp.track_processes)`,
		`t.yaml:19: vrrp.instances[VI_1].track_files[0].weight: must be between -254 and 254, got 999`,
	})
}
