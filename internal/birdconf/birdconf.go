// Package birdconf writes the bird2 configuration of the test router that
// the BGP labs (director/daemon's netns test, the VM's ECMP scenario and
// ecmpbench) run in front of their directors, and of the directors of
// ecmpbench's bird2 anchor: test infrastructure only.
package birdconf

import (
	"fmt"
	"strings"
)

// Router is the router's bird.conf: router id and local address id, AS
// 65000, one passive BGP session (hold 3 s, keepalive 1 s) per neighbor
// in AS 65001, named d1, d2, ..., and merge paths so the kernel gets one
// route with a next hop per director. With bfd, a BFD session on each
// (100 ms x 3) and bird's log on stderr.
func Router(id string, neighbors []string, bfd bool) string {
	var b strings.Builder
	bfdOn, bfdProto := "", ""
	if bfd {
		bfdOn = "  bfd on;\n"
		bfdProto = "log stderr all;\nprotocol bfd { debug all; interface \"*\" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }\n"
	}
	fmt.Fprintf(&b, `router id %s;
protocol device { scan time 10; }
protocol kernel {
  ipv4 { import none; export all; };
  merge paths on;
}
template bgp director {
  local %s as 65000;
  passive on;
  hold time 3;
  keepalive time 1;
  error wait time 1, 5;
%s  ipv4 { import all; export none; };
}
%s`, id, id, bfdOn, bfdProto)
	for i, n := range neighbors {
		fmt.Fprintf(&b, "protocol bgp d%d from director { neighbor %s as 65001; }\n", i+1, n)
	}
	return b.String()
}

// Director is the bird.conf of a director announcing vip (a /32) to the
// router by itself, the anchor operators build by hand: router id and
// local address id, AS 65001, one BGP session to the router in AS 65000
// (hold 3 s, keepalive 1 s) exporting a static route to the VIP (its next
// hop the director, eBGP), and with bfd BFD 100 ms x 3 on the session;
// bird's log on stderr.
func Director(id, router, vip string, bfd bool) string {
	var b strings.Builder
	bfdOn, bfdProto := "", ""
	if bfd {
		bfdOn = "  bfd on;\n"
		bfdProto = "protocol bfd { interface \"*\" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }\n"
	}
	fmt.Fprintf(&b, `log stderr all;
router id %s;
protocol device { scan time 10; }
protocol static { ipv4; route %s/32 blackhole; }
%sprotocol bgp uplink {
  local %s as 65001;
  neighbor %s as 65000;
  hold time 3;
  keepalive time 1;
  error wait time 1, 5;
%s  ipv4 { import none; export all; };
}
`, id, vip, bfdProto, id, router, bfdOn)
	return b.String()
}
