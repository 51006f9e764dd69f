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

// vsGroupExpandCases are group entries and the services they give (the
// keepalived oracle reads them too).
var vsGroupExpandCases = []struct {
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

// vsGroupBadEntries are group entries keepalived skips with a message.
var vsGroupBadEntries = []string{"10.0.0.9-3 80", "10.0.0.1 http", "10.0.0.1/24 80", "fwmark 1 ipx"}

// vsGroupConf is a group of entries and a virtual server using it.
func vsGroupConf(entries string) string {
	return "virtual_server_group G {\n " + entries + "\n}\n" + groupBody
}

// A virtual_server_group becomes one virtual server per member, each with
// the group's settings and real servers; ranges and fwmarks expand as
// keepalived reads them.
func TestVirtualServerGroupExpands(t *testing.T) {
	for _, tt := range vsGroupExpandCases {
		t.Run(tt.name, func(t *testing.T) {
			res := convert(t, vsGroupConf(tt.entries))
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
	t.Run("fwmark 0", func(t *testing.T) {
		res := convert(t, vsGroupConf("fwmark 0\n 10.0.0.1 80"))
		if got := serviceKeys(res); !slices.Equal(got, []string{"TCP 10.0.0.1:80"}) {
			t.Fatalf("services %q", got)
		}
		if got := issueKeys(res); !slices.Equal(got, []string{"2:fwmark"}) {
			t.Fatalf("unmapped %q: %v", got, res.Unmapped)
		}
	})
	t.Run("unused group", func(t *testing.T) {
		res := convert(t, "virtual_server_group G {\n 10.0.0.1 80\n}\n")
		if !hasNote(res, "used by no virtual_server") {
			t.Fatalf("no note: %v", res.Notes)
		}
	})
	for _, bad := range append(vsGroupBadEntries, "10.0.0.0/8 80") {
		t.Run("error "+bad, func(t *testing.T) {
			_, err := Convert("keepalived.conf", []byte(vsGroupConf(bad)), nil)
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
