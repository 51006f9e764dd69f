// Package realserver is the real-server agent behind lbrs: it puts the
// virtual IPs (VIPs) a director forwards to on this node the way LVS direct
// routing (DR) or IP-in-IP tunnelling (TUN) needs them, keeps them there, and
// undoes exactly what it did.
//
// DR mode puts every VIP as a host address (/32, /128) on lo, IPv4 ones
// labelled lo:0, lo:1 ..., and sets arp_ignore/arp_announce on lo and all so
// the node never answers ARP for a VIP (which would steal the director's
// traffic). TUN mode brings the tunnel device (tunl0, ip6tnl0 for IPv6) up
// with the VIPs on it and relaxes rp_filter, which would otherwise drop the
// decapsulated packets.
//
// The agent works from desired state: [Spec] says what must be in place, the
// kernel is read through the narrow [System] interface, and a pure planner
// turns (desired, observed, recorded state) into an ordered list of
// [Action]s. Before it changes anything it records what it found in a state
// file (written atomically), so [Restore] puts back exactly the original
// values, even after a crash and restart, and leaves alone any VIP that was
// already there before it started.
//
// [Agent.Watch] keeps the state in place: address and link changes arrive
// over netlink and trigger a resync at once; sysctls, which have no
// notifications, are checked every Spec.ResyncInterval. Each repair is logged
// with what was expected and what was found.
package realserver
