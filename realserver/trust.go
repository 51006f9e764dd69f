package realserver

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// The state file is read back from disk, where anything may have happened to
// it: a crash mid-write on a file system without the rename guarantee, a disk
// error, a hand edit, an attacker. lbrs acts on it only if every record has a
// shape lbrs itself writes, and, before undoing anything, only if the records
// still match the node and the configuration. A file that fails is refused
// whole: nothing in it is acted on.

// ErrBadState marks a state file lbrs refuses to act on (corrupt, from
// another version, or holding a record lbrs would never have written). The
// error names the file and every problem found. Retrying cannot help: the
// operator must look at the file (see "lbrs's state file" in README.md).
var ErrBadState = errors.New("state file refused")

// maxStateSize bounds the state file: a record is about 100 bytes, so this is
// room for some ten thousand VIPs.
const maxStateSize = 1 << 20

// maxStateErrors bounds how many problems one refusal lists.
const maxStateErrors = 10

// stateHint ends every refusal: what the operator does next.
const stateHint = "nothing in it was acted on; to recover (README.md, \"lbrs's state file\"): " +
	"for records on a device lbrs.yaml no longer uses, lbrs restore -state FILE; " +
	"else undo by hand what lbrs left and move the file away"

// sysctlKnobs are the only sysctls lbrs writes, each under
// net/ipv4/conf/DEVICE/, with the largest value that knob takes: a recorded
// original outside 0..max is not a value the kernel had.
var sysctlKnobs = map[string]int{"arp_ignore": 8, "arp_announce": 2, "rp_filter": 2}

// restoreKinds are the kinds of device lbrs puts VIPs on or brings up
// ("loopback" is lo): when no configuration says which devices are lbrs's
// (restore from a state file alone), a record on any other kind of device
// (a physical NIC, a bridge, a veth) is refused.
var restoreKinds = []string{"loopback", "dummy", "ipip", "ip6tnl"}

// tunnelKinds are the devices lbrs creates: the only ones it ever deletes.
var tunnelKinds = []string{"ipip", "ip6tnl"}

// problems collects what is wrong with a state file, up to maxStateErrors.
type problems struct {
	errs    []string
	dropped int
}

func (p *problems) add(format string, args ...any) {
	if len(p.errs) >= maxStateErrors {
		p.dropped++
		return
	}
	p.errs = append(p.errs, fmt.Sprintf(format, args...))
}

// err is nil without problems, else the refusal of the file at path.
func (p *problems) err(path string) error {
	if len(p.errs) == 0 {
		return nil
	}
	msg := strings.Join(p.errs, "; ")
	if p.dropped > 0 {
		msg += fmt.Sprintf("; and %d more", p.dropped)
	}
	return fmt.Errorf("%w: %s: %s (%s)", ErrBadState, path, msg, stateHint)
}

// validate checks that every record has a shape lbrs writes: the format
// version, sysctls among the ARP and rp_filter knobs with small integer
// originals, host addresses (/32, /128) usable as VIPs on valid device names,
// devices with valid names (lo never "created").
func (s State) validate(p *problems) {
	if s.Version != stateVersion {
		p.add("version %d, want %d", s.Version, stateVersion)
	}
	for _, key := range sortedKeys(s.Sysctls) {
		if err := checkSysctlRecord(key, s.Sysctls[key]); err != nil {
			p.add("sysctl %q: %v", key, err)
		}
	}
	seen := map[addrKey]bool{}
	for i, r := range s.Addresses {
		if err := checkAddrRecord(r); err != nil {
			p.add("address #%d (%s on %q): %v", i+1, r.Prefix, r.Link, err)
			continue
		}
		k := addrKey{r.Link, r.Prefix.Addr()}
		if seen[k] {
			p.add("address %s on %s: recorded twice", r.Prefix.Addr(), r.Link)
		}
		seen[k] = true
	}
	for _, name := range sortedKeys(s.Links) {
		if err := checkDevice(name); err != nil {
			p.add("link: %v", err)
		} else if name == "lo" && s.Links[name].Created {
			p.add("link lo: recorded as created by lbrs, which only creates tunnel devices")
		}
	}
}

// checkSysctlRecord accepts exactly net/ipv4/conf/DEVICE/KNOB, DEVICE "all"
// or a device name, KNOB one lbrs sets, the value a decimal in its range.
func checkSysctlRecord(key, value string) error {
	parts := strings.Split(key, "/")
	if len(parts) != 5 || parts[0] != "net" || parts[1] != "ipv4" || parts[2] != "conf" {
		return errors.New("not a sysctl lbrs sets (net/ipv4/conf/DEVICE/{arp_ignore,arp_announce,rp_filter})")
	}
	if dev := parts[3]; dev != "all" && (dev == "default" || checkDevice(dev) != nil) {
		return fmt.Errorf("device %q: not a device lbrs sets sysctls on", dev)
	}
	limit, ok := sysctlKnobs[parts[4]]
	if !ok {
		return fmt.Errorf("%q: not a sysctl lbrs sets (arp_ignore, arp_announce, rp_filter)", parts[4])
	}
	if n, err := strconv.Atoi(value); err != nil || strconv.Itoa(n) != value || n < 0 || n > limit {
		return fmt.Errorf("original value %q: want an integer 0-%d", truncate(value, 20), limit)
	}
	return nil
}

// checkAddrRecord accepts a host address usable as a VIP, as lbrs adds them.
func checkAddrRecord(r AddrRecord) error {
	if err := checkDevice(r.Link); err != nil {
		return err
	}
	if !r.Prefix.IsValid() {
		return errors.New("no valid address")
	}
	ip := r.Prefix.Addr()
	if ip.Is4In6() {
		return errors.New("an IPv4-mapped IPv6 address: lbrs records IPv4 VIPs as IPv4")
	}
	if r.Prefix.Bits() != ip.BitLen() {
		return fmt.Errorf("prefix length /%d: lbrs adds VIPs as /%d only", r.Prefix.Bits(), ip.BitLen())
	}
	if !UsableVIP(ip) {
		return errors.New("not a VIP (unspecified, loopback, multicast, link-local or broadcast)")
	}
	switch {
	case r.Label == "":
	case !ip.Is4():
		return fmt.Errorf("label %q on an IPv6 address: lbrs labels IPv4 VIPs only", truncate(r.Label, 20))
	case len(r.Label) > 15 || !strings.HasPrefix(r.Label, r.Link) || strings.ContainsAny(r.Label, "/ \t\n"):
		return fmt.Errorf("label %q: not a label of %s", truncate(r.Label, 20), r.Link)
	}
	return nil
}

// checkDevice accepts a device name as the kernel does (checkIfName), and
// printable.
func checkDevice(name string) error {
	if err := checkIfName(name); err != nil {
		return err
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r >= 0x7f }) {
		return fmt.Errorf("interface %q: not a valid device name", name)
	}
	return nil
}

// UsableVIP reports whether v can be a virtual address on a real server:
// not unspecified, loopback, multicast, link-local or broadcast. lbrs check
// (internal/config) asks it too, so check and apply agree.
func UsableVIP(v netip.Addr) bool {
	return !(v.IsUnspecified() || v.IsLoopback() || v.IsMulticast() || v.IsLinkLocalUnicast() ||
		v.Is4() && v == netip.AddrFrom4([4]byte{255, 255, 255, 255}))
}

// fits checks the records against the devices a configuration puts VIPs on
// (the current one's, and in a running agent those of the configurations
// it had before): lbrs never changed anything elsewhere. Addresses lbrs
// found in place are left alone on restore, so they are not checked.
func (s State) fits(devices []string, p *problems) {
	want := func(dev string) bool { return slices.Contains(devices, dev) }
	conf := strings.Join(devices, ", ")
	for _, r := range s.Addresses {
		if !r.Preexisting && !want(r.Link) {
			p.add("address %s on %s: the configuration puts VIPs on %s only", r.Prefix, r.Link, conf)
		}
	}
	for _, name := range sortedKeys(s.Links) {
		if !want(name) {
			p.add("link %s: the configuration uses %s only", name, conf)
		}
	}
	for _, key := range sortedKeys(s.Sysctls) {
		if dev := strings.Split(key, "/")[3]; dev != "all" && !want(dev) {
			p.add("sysctl %s: the configuration sets sysctls on all and %s only", key, conf)
		}
	}
}

// checkKernel checks the records against the node before anything is
// undone: a device recorded as created by lbrs must be a tunnel; no VIP to
// remove may be the node's own primary address on another device; and,
// without a configuration (devices nil), records may only concern devices of
// the kinds lbrs uses (restoreKinds).
func (s State) checkKernel(obs observed, all []Address, devices []string, p *problems) {
	for _, name := range sortedKeys(s.Links) {
		info, ok := obs.Links[name]
		switch {
		case !ok:
		case s.Links[name].Created && !slices.Contains(tunnelKinds, info.Kind):
			p.add("link %s: recorded as created by lbrs, but it is a %s device, not a tunnel lbrs creates", name, kindName(info.Kind))
		case devices == nil && !slices.Contains(restoreKinds, info.Kind):
			p.add("link %s: a %s device, not one lbrs uses (lo, dummy, tunnels)", name, kindName(info.Kind))
		}
	}
	for _, r := range s.Addresses {
		if r.Preexisting {
			continue
		}
		if info, ok := obs.Links[r.Link]; ok && devices == nil && !slices.Contains(restoreKinds, info.Kind) {
			p.add("address %s on %s: a %s device, not one lbrs puts VIPs on (lo, dummy, tunnels)", r.Prefix, r.Link, kindName(info.Kind))
		}
		for _, a := range all {
			if a.Link != r.Link && a.Prefix.Addr() == r.Prefix.Addr() && !a.HostScope && !a.Secondary {
				p.add("address %s on %s: it is this node's own primary address on %s", r.Prefix, r.Link, a.Link)
			}
		}
	}
}

func kindName(kind string) string {
	if kind == "" || kind == "device" {
		return "physical"
	}
	return kind
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
