// Package netnslab builds small network topologies out of Linux network
// namespaces, bridges and veth pairs, for tests that need real networking:
// the host-side netns tests of other packages (build tag netns), vrrp's
// interop lab (vrrp/internal/vrrplab) and the scenarios that run inside the
// testbed VM (e2e/scenarios).
//
// A Lab owns everything it creates. Every host is a named network namespace
// (an nsfs bind mount under /run/netns, the place iproute2 uses, so
// "ip netns exec" and "nsenter --net=/run/netns/NAME" work on it); every
// bridge ("switch") lives in one extra namespace private to the lab, so a lab
// never touches the root namespace's links and two labs never collide.
// Close removes it all.
//
//	lab, err := netnslab.New("demo")
//	defer lab.Close()
//	lan, _ := lab.AddSwitch("lan")
//	web, _ := lab.AddHost("web", lan, netip.MustParsePrefix("10.0.0.2/24"))
//	_ = web.Sysctl("net.ipv4.conf.all.arp_ignore", "1")
//	ln, _ := web.Listen("tcp", ":80") // the socket lives in web's namespace
//
// Facts the package relies on and callers should know:
//
//   - Namespace names under /run/netns are prefixed with the lab's unique id
//     (Namespace.FullName); use Namespace.Path or Namespace.Command rather than
//     spelling them.
//   - /run/netns is made a shared bind mount of itself when it is not yet a
//     mount point, as "ip netns add" does. It only needs to be a directory
//     on a writable file system (tmpfs in the VM's initramfs; /init mounts
//     tmpfs on /run and links /var/run to /run).
//   - lo is brought up in every namespace the lab creates: IPVS rejects
//     destinations with EINVAL in a namespace whose lo is down.
//   - IPv6 DAD is switched off in lab namespaces so IPv6 addresses are usable
//     at once (ignored when the kernel has no IPv6).
//   - Go code runs in a namespace through Namespace.Do, on a locked OS thread.
//     Sockets keep the namespace they were created in, so a listener or a
//     connection made inside Do (or with Namespace.Listen / DialContext) may be
//     used from any goroutine afterwards. Goroutines started inside Do do NOT
//     inherit the namespace. Inside Do, /proc/net is the process's namespace:
//     read /proc/thread-self/net/... instead.
//   - External programs run through nsenter (util-linux on the host, busybox
//     in the VM); the program is resolved to a full path first, so busybox's
//     own "ip" applet never shadows iproute2's /usr/sbin/ip.
package netnslab
