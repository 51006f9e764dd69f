package vrrp

import (
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// openRoute opens a route netlink handle in ns, the calling thread's
// network namespace, and returns the namespace that subscriptions opened
// from other goroutines must name (nil: their thread's own).
//
// Naming a namespace makes the netlink library enter it (setns) around
// each socket it opens, and entering a namespace needs CAP_SYS_ADMIN, even
// one's own: lbd.service grants only CAP_NET_ADMIN, CAP_NET_RAW and
// CAP_SYS_MODULE, so under systemd VRRP failed to start ("failed to set
// into network namespace ... operation not permitted"). When ns is the
// process's own namespace every thread is already in it, so nothing is
// entered; a thread locked into another namespace (the netns tests) keeps
// naming it.
func openRoute(ns netns.NsHandle) (*netlink.Handle, *netns.NsHandle, error) {
	if ownNetns(ns) {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		return h, nil, err
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	return h, &ns, err
}

// ownNetns reports whether ns is the process's network namespace (its
// main thread's).
func ownNetns(ns netns.NsHandle) bool {
	self, err := netns.GetFromPath("/proc/self/ns/net")
	if err != nil {
		return false
	}
	defer self.Close()
	return ns.Equal(self)
}
