// Package nginxlab is the seed's nginx pair on network namespaces, for the
// netns test that proves it (build tag netns) and for the benchmark that
// times it against keepalived (director/cmd/nginxbench): two proxies d1
// and d2, each running Debian's real nginx as a foreground process (its
// own configuration, pid and log files in the lab's directory, never the
// system service) in front of two backends web1 and web2 (Go HTTP servers),
// and a client on the VIP, all on the seed's LAN 192.168.56.0/24:
//
//	client 192.168.56.10 ──► VIP 192.168.56.90:80 (eth1 of the MASTER)
//	  d1 192.168.56.11, d2 192.168.56.12: nginx, upstream round robin,
//	  adding "X-Director: d1|d2" to every answer
//	  ├──► web1 192.168.56.200:8080 (answers "web1")
//	  └──► web2 192.168.56.201:8080 (answers "web2")
//
// A VRRP speaker (lbd, the real binary, or keepalived) runs on each proxy
// with a configuration the caller gives: the shipped example
// deploy/examples/lbd-nginx-pair.yaml or the seed's keepalived.conf
// (internal/kaconf/testdata/seed-nginx-*.conf), adapted only where two
// speakers share one file system (control socket, pid files).
//
// Namespaces share the host's process table, so a check such as "pidof
// nginx" would see the other proxy's nginx: the scripts track nginx by
// connecting to 127.0.0.1:80, which is per namespace, and each proxy's
// nginx runs under a name of its own (NginxComm: nginx-d1, nginx-d2) for
// track_process.
//
// A Setup picks the speaker (lbd or keepalived), how it tracks nginx (the
// 1 s script, or lbd's track_process) and the preemption (the seed's, or
// nopreempt on both); Pair.RunRound kills nginx on the master d1, waits
// for the client to be answered again, starts nginx again and waits for
// what the preemption promises; Round.Problems checks the order of events
// and the protocol's bounds.
//
// The prober sends a GET to the VIP every few milliseconds, each on a new
// connection, and keeps every result; Results and the functions over them
// (FirstAnswer, Sequence) are pure and unit-tested.
package nginxlab
