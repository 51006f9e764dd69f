package kaconf

import (
	"slices"
	"strings"
	"testing"
)

// serviceKeys lists the Key of every converted virtual server, in order.
func serviceKeys(r *Result) []string {
	var out []string
	for _, vs := range r.Director.VirtualServers {
		out = append(out, vs.Key())
	}
	return out
}

const groupBody = `virtual_server group G {
 protocol TCP
 lb_algo rr
 real_server 192.168.1.10 80 {
  weight 3
  TCP_CHECK {
  }
 }
}
`

// A virtual_server_group becomes one virtual server per member, each with
// the group's settings and real servers; ranges and fwmarks expand as
// keepalived reads them.
func TestVirtualServerGroupExpands(t *testing.T) {
	tests := []struct {
		name    string
		entries string
		want    []string
	}{
		{"address and port", "10.0.0.1 8080", []string{"TCP 10.0.0.1:8080"}},
		{"last-byte range", "10.0.0.1-3 80", []string{"TCP 10.0.0.1:80", "TCP 10.0.0.2:80", "TCP 10.0.0.3:80"}},
		{"whole-address range", "10.0.0.254-10.0.1.1 80", []string{"TCP 10.0.0.254:80", "TCP 10.0.0.255:80", "TCP 10.0.1.0:80", "TCP 10.0.1.1:80"}},
		{"prefix range", "10.0.0.4/31 80", []string{"TCP 10.0.0.4:80", "TCP 10.0.0.5:80"}},
		{"fwmark", "fwmark 7", []string{"FWM 7 ipv4"}},
		{"several entries", "10.0.0.1 80\n 10.0.0.1 443\n fwmark 2 inet", []string{"TCP 10.0.0.1:80", "TCP 10.0.0.1:443", "FWM 2 ipv4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := convert(t, "virtual_server_group G {\n "+tt.entries+"\n}\n"+groupBody)
			got := serviceKeys(res)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("services %q, want %q\nunmapped %v", got, tt.want, res.Unmapped)
			}
			if len(res.Unmapped) != 0 {
				t.Errorf("unmapped: %v", res.Unmapped)
			}
			for _, vs := range res.Director.VirtualServers {
				if vs.Scheduler != "rr" || len(vs.RealServers) != 1 || vs.RealServers[0].Weight != 3 || len(vs.RealServers[0].Checks) != 1 {
					t.Errorf("%s: the group's settings and real server not applied: %+v", vs.Key(), vs)
				}
			}
			if !strings.Contains(string(res.YAML), `virtual_server_group G member "`) {
				t.Errorf("the YAML does not say which group a service came from:\n%s", res.YAML)
			}
		})
	}
}

// What a member's service cannot hold is reported, never dropped silently;
// a malformed entry is an error.
func TestVirtualServerGroupProblems(t *testing.T) {
	t.Run("real server at the member's address", func(t *testing.T) {
		res := convert(t, "virtual_server_group G {\n 192.168.1.10 80\n 10.0.0.1 80\n}\n"+groupBody)
		if got := serviceKeys(res); !slices.Equal(got, []string{"TCP 10.0.0.1:80"}) {
			t.Fatalf("services %q", got)
		}
		if got := issueKeys(res); !slices.Equal(got, []string{"5:virtual_server", "8:real_server"}) {
			t.Fatalf("unmapped %q: %v", got, res.Unmapped)
		}
	})
	t.Run("unused group", func(t *testing.T) {
		res := convert(t, "virtual_server_group G {\n 10.0.0.1 80\n}\n")
		if !hasNote(res, "used by no virtual_server") {
			t.Fatalf("no note: %v", res.Notes)
		}
	})
	for _, bad := range []string{"10.0.0.9-3 80", "10.0.0.1 http", "10.0.0.1/24 80", "fwmark 0", "fwmark 1 ipx", "10.0.0.1-2001:db8::1 80", "10.0.0.0/8 80"} {
		t.Run("error "+bad, func(t *testing.T) {
			_, err := Convert("keepalived.conf", []byte("virtual_server_group G {\n "+bad+"\n}\n"+groupBody), nil)
			if err == nil || !strings.Contains(err.Error(), "keepalived.conf:2:") {
				t.Fatalf("err = %v, want an error at line 2", err)
			}
		})
	}
}

func TestExpandRangeIPv6(t *testing.T) {
	got, err := expandRange("2001:db8::fe-101", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2001:db8::fe", "2001:db8::ff", "2001:db8::100", "2001:db8::101"}
	var s []string
	for _, a := range got {
		s = append(s, a.String())
	}
	if !slices.Equal(s, want) {
		t.Fatalf("got %q, want %q", s, want)
	}
}
