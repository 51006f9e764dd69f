package table

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Format selects an ipvsadm listing format; the bits mirror ipvsadm's
// options and combine the way ipvsadm combines them.
type Format uint32

// Listing formats.
const (
	FormatNumeric        Format = 1 << iota // -n: no name resolution
	FormatRule                              // -S: save format (ipvsadm -R input)
	FormatStats                             // --stats
	FormatRate                              // --rate
	FormatThresholds                        // --thresholds
	FormatPersistentConn                    // --persistent-conn
	FormatNoSort                            // --nosort: kernel order
	FormatExact                             // --exact: no K/M/G shortening
	FormatTunInfo                           // --tun-info
)

// Resolver turns addresses and ports into names for a listing without
// FormatNumeric, like ipvsadm's gethostbyaddr and getservbyport. ok false
// means "no name": the number is printed.
type Resolver interface {
	HostName(a netip.Addr) (name string, ok bool)
	ServiceName(port uint16, p Protocol) (name string, ok bool)
}

// WriteList writes t the way "ipvsadm -L" with format f does: the version
// header (unless FormatRule), the column titles, then each service and its
// destinations, sorted as ipvsadm sorts them unless FormatNoSort. r is used
// for names when f lacks FormatNumeric; nil means numeric.
func WriteList(w io.Writer, info Info, t Table, f Format, r Resolver) error {
	bw := bufio.NewWriter(w)
	if f&FormatRule == 0 {
		fmt.Fprintf(bw, "IP Virtual Server version %d.%d.%d (size=%d)\n",
			info.Version[0]&0xff, info.Version[1]&0xff, info.Version[2]&0xff, int32(info.ConnTableSize))
	}
	svcs := make([]Service, len(t.Services))
	copy(svcs, t.Services)
	if f&FormatNoSort == 0 {
		mergeSort(svcs, ipvsadmCompareServices)
	}
	writeTitle(bw, f)
	for _, s := range svcs {
		writeService(bw, s, f, r)
	}
	return bw.Flush()
}

// WriteSave writes t the way "ipvsadm -S" does ("ipvsadm -S -n" with
// FormatNumeric): lines "ipvsadm -R" reads back.
func WriteSave(w io.Writer, t Table, f Format, r Resolver) error {
	return WriteList(w, Info{}, t, f|FormatRule, r)
}

// WriteTimeouts writes the "ipvsadm -L --timeout" line.
func WriteTimeouts(w io.Writer, t Timeouts) error {
	_, err := fmt.Fprintf(w, "Timeout (tcp tcpfin udp): %d %d %d\n", int32(t.TCP), int32(t.TCPFin), int32(t.UDP))
	return err
}

func writeTitle(w *bufio.Writer, f Format) {
	switch {
	case f&FormatStats != 0:
		fmt.Fprintf(w, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
	case f&FormatRate != 0:
		fmt.Fprintf(w, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
	case f&FormatThresholds != 0:
		fmt.Fprintf(w, "%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn")
	case f&FormatPersistentConn != 0:
		fmt.Fprintf(w, "%-33s %-9s %-11s %-10s %-10s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn")
	case f&FormatTunInfo != 0:
		w.WriteString("Prot LocalAddress:Port Scheduler Flags\n" +
			"  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n")
	case f&FormatRule == 0:
		w.WriteString("Prot LocalAddress:Port Scheduler Flags\n" +
			"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
	}
}

// protocolName is ipvsadm's protocol_name.
func protocolName(p Protocol) string {
	switch p {
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoSCTP:
		return "SCTP"
	}
	return "?"
}

// protocolOption is ipvsadm's option_from_protocol (with its fallback).
func protocolOption(p Protocol) string {
	switch p {
	case ProtoTCP:
		return "-t"
	case ProtoUDP:
		return "-u"
	case ProtoSCTP:
		return "--sctp-service"
	}
	return "--xxx-service"
}

func ruleServiceName(s Service, f Format, r Resolver) string {
	if s.FWMark != 0 {
		if s.Family == FamilyIPv6 {
			return fmt.Sprintf("-f %d -6", int32(s.FWMark))
		}
		return fmt.Sprintf("-f %d", int32(s.FWMark))
	}
	return protocolOption(s.Protocol) + " " + addrPortName(s.Family, s.Address, s.Port, s.Protocol, f, r)
}

func listServiceName(s Service, f Format, r Resolver) string {
	if s.FWMark != 0 {
		if s.Family == FamilyIPv6 {
			return fmt.Sprintf("FWM  %d IPv6", int32(s.FWMark))
		}
		return fmt.Sprintf("FWM  %d", int32(s.FWMark))
	}
	name := fmt.Sprintf("%-4s %s", protocolName(s.Protocol), addrPortName(s.Family, s.Address, s.Port, s.Protocol, f, r))
	if s.Family != FamilyIPv6 && len(name) > 33 {
		name = name[:33]
	}
	return name
}

// schedFlags is ipvsadm's print_sched_flags.
func schedFlags(s Service) string {
	var parts []string
	switch s.Scheduler {
	case "sh":
		if s.Flags&FlagSHFallback != 0 {
			parts = append(parts, "sh-fallback")
		}
		if s.Flags&FlagSHPort != 0 {
			parts = append(parts, "sh-port")
		}
	case "mh":
		if s.Flags&FlagMHFallback != 0 {
			parts = append(parts, "mh-fallback")
		}
		if s.Flags&FlagMHPort != 0 {
			parts = append(parts, "mh-port")
		}
	default:
		if s.Flags&FlagSched1 != 0 {
			parts = append(parts, "flag-1")
		}
		if s.Flags&FlagSched2 != 0 {
			parts = append(parts, "flag-2")
		}
		if s.Flags&FlagSched3 != 0 {
			parts = append(parts, "flag-3")
		}
	}
	return strings.Join(parts, ",")
}

func writeRuleServiceOptions(w io.StringWriter, s Service) {
	w.WriteString(" -s " + s.Scheduler)
	if s.Flags&FlagPersistent != 0 {
		w.WriteString(" -p " + strconv.FormatUint(uint64(s.Timeout), 10))
		if s.Family == FamilyIPv4 && s.Netmask != 0xffffffff {
			w.WriteString(" -M " + ipv4String(s.Netmask))
		}
		if s.Family == FamilyIPv6 && s.Netmask != 128 {
			w.WriteString(" -M " + strconv.Itoa(int(int32(s.Netmask))))
		}
	}
	if s.Flags&FlagOnePacket != 0 {
		w.WriteString(" -o")
	}
	if s.Flags&FlagsSched != 0 {
		w.WriteString(" -b " + schedFlags(s))
	}
}

func writeService(w *bufio.Writer, s Service, f Format, r Resolver) {
	switch {
	case f&FormatRule != 0:
		w.WriteString("-A " + ruleServiceName(s, f, r))
		writeRuleServiceOptions(w, s)
	case f&FormatStats != 0:
		fmt.Fprintf(w, "%-33s", listServiceName(s, f, r))
		writeLargeNums(w, f, s.Stats.Conns, s.Stats.InPkts, s.Stats.OutPkts, s.Stats.InBytes, s.Stats.OutBytes)
	case f&FormatRate != 0:
		fmt.Fprintf(w, "%-33s", listServiceName(s, f, r))
		writeLargeNums(w, f, s.Stats.CPS, s.Stats.InPPS, s.Stats.OutPPS, s.Stats.InBPS, s.Stats.OutBPS)
	default:
		w.WriteString(listServiceName(s, f, r) + " " + s.Scheduler)
		if s.Flags&FlagsSched != 0 {
			w.WriteString(" (" + schedFlags(s) + ")")
		}
		if s.Flags&FlagPersistent != 0 {
			fmt.Fprintf(w, " persistent %d", s.Timeout)
			if s.Family == FamilyIPv4 && s.Netmask != 0xffffffff {
				w.WriteString(" mask " + ipv4String(s.Netmask))
			}
			if s.Family == FamilyIPv6 && s.Netmask != 128 {
				fmt.Fprintf(w, " mask %d", int32(s.Netmask))
			}
		}
		if s.Flags&FlagOnePacket != 0 {
			w.WriteString(" ops")
		}
	}
	w.WriteString("\n")

	dests := make([]Destination, len(s.Destinations))
	copy(dests, s.Destinations)
	if f&FormatNoSort == 0 {
		mergeSort(dests, ipvsadmCompareDests)
	}
	svcName := ""
	if f&FormatRule != 0 {
		svcName = ruleServiceName(s, f, r)
	}
	for _, d := range dests {
		af := d.AddrFamily()
		dname := addrPortName(af, d.Address, d.Port, s.Protocol, f, r)
		if f&FormatRule == 0 && af != FamilyIPv6 && len(dname) > 28 {
			dname = dname[:28]
		}
		switch {
		case f&FormatRule != 0:
			w.WriteString("-a ")
			writeRuleDest(w, svcName, d, s.Protocol, f, r)
			w.WriteString("\n")
		case f&FormatStats != 0:
			fmt.Fprintf(w, "  -> %-28s", dname)
			writeLargeNums(w, f, d.Stats.Conns, d.Stats.InPkts, d.Stats.OutPkts, d.Stats.InBytes, d.Stats.OutBytes)
			w.WriteString("\n")
		case f&FormatRate != 0:
			fmt.Fprintf(w, "  -> %-28s %8d %8d %8d", dname, d.Stats.CPS, d.Stats.InPPS, d.Stats.OutPPS)
			writeLargeNums(w, f, d.Stats.InBPS, d.Stats.OutBPS)
			w.WriteString("\n")
		case f&FormatThresholds != 0:
			fmt.Fprintf(w, "  -> %-28s %-10d %-10d %-10d %-10d\n", dname,
				d.UpperThreshold, d.LowerThreshold, d.ActiveConns, d.InactConns)
		case f&FormatPersistentConn != 0:
			fmt.Fprintf(w, "  -> %-28s %-9d %-11d %-10d %-10d\n", dname,
				d.Weight, d.PersistConns, d.ActiveConns, d.InactConns)
		case f&FormatTunInfo != 0:
			ti, ok := tunInfo(d)
			if !ok {
				ti = "n/a"
			}
			fmt.Fprintf(w, "  -> %-28s %-7s %-13s %-6d %-10d %-10d\n", dname, fwdName(d.Forward), ti,
				int32(d.Weight), d.ActiveConns, d.InactConns)
		default:
			fmt.Fprintf(w, "  -> %-28s %-7s %-6d %-10d %-10d\n", dname, fwdName(d.Forward),
				int32(d.Weight), d.ActiveConns, d.InactConns)
		}
	}
}

// writeRuleDest writes what follows "-a " in a save line; p is the
// service's protocol (ports are named with it).
func writeRuleDest(w io.StringWriter, svcName string, d Destination, p Protocol, f Format, r Resolver) {
	dname := addrPortName(d.AddrFamily(), d.Address, d.Port, p, f, r)
	w.WriteString(svcName + " -r " + dname + " " + fwdSwitch(d.Forward) + " -w " + strconv.Itoa(int(int32(d.Weight))))
	if d.Forward != ForwardTunnel {
		return
	}
	switch d.TunnelType {
	case TunnelGRE:
		w.WriteString(" --tun-type " + tunnelNameC(d.TunnelType) + " " + tunFlagOpt(d.TunnelFlags))
	case TunnelGUE:
		w.WriteString(" --tun-type " + tunnelNameC(d.TunnelType) + " --tun-port " + strconv.Itoa(int(d.TunnelPort)) + " " + tunFlagOpt(d.TunnelFlags))
	case TunnelIPIP:
		w.WriteString(" --tun-type " + tunnelNameC(d.TunnelType))
	}
}

func fwdName(f Forward) string {
	switch f {
	case ForwardMasq:
		return "Masq"
	case ForwardLocal:
		return "Local"
	case ForwardTunnel:
		return "Tunnel"
	case ForwardRoute:
		return "Route"
	}
	return "(null)" // what glibc prints for ipvsadm's NULL name
}

func fwdSwitch(f Forward) string {
	switch f {
	case ForwardMasq:
		return "-m"
	case ForwardTunnel:
		return "-i"
	case ForwardLocal, ForwardRoute:
		return "-g"
	}
	return "(null)"
}

func tunnelNameC(t TunnelType) string {
	if int(t) < len(tunnelNames) {
		return tunnelNames[t]
	}
	return "(null)"
}

var tunFlagShort = [...]string{"-c", "+c", "r+c"}
var tunFlagOpts = [...]string{"--tun-nocsum", "--tun-csum", "--tun-remcsum"}

func tunFlagOpt(f TunnelFlags) string {
	if int(f) < len(tunFlagOpts) {
		return tunFlagOpts[f]
	}
	return "(null)"
}

// tunInfo is ipvsadm's fwd_tun_info (at most 15 characters).
func tunInfo(d Destination) (string, bool) {
	if d.Forward != ForwardTunnel {
		return "", false
	}
	short := "(null)"
	if int(d.TunnelFlags) < len(tunFlagShort) {
		short = tunFlagShort[d.TunnelFlags]
	}
	var s string
	switch d.TunnelType {
	case TunnelIPIP:
		s = "ipip"
	case TunnelGUE:
		s = fmt.Sprintf("gue:%d:%s", d.TunnelPort, short)
	case TunnelGRE:
		s = "gre:" + short
	default:
		return "", false
	}
	if len(s) > 15 {
		s = s[:15]
	}
	return s, true
}

// writeLargeNums is ipvsadm's print_largenum for each value.
func writeLargeNums(w *bufio.Writer, f Format, vals ...uint64) {
	for _, i := range vals {
		if f&FormatExact != 0 {
			n := len(strconv.FormatUint(i, 10))
			width := 9
			if n > 8 {
				width = n + 1
			}
			fmt.Fprintf(w, "%*d", width, i)
			continue
		}
		switch {
		case i < 100000000:
			fmt.Fprintf(w, "%9d", i)
		case i < 1000000000:
			fmt.Fprintf(w, "%8dK", i/1000)
		case i < 100000000000:
			fmt.Fprintf(w, "%8dM", i/1000000)
		case i < 100000000000000:
			fmt.Fprintf(w, "%8dG", i/1000000000)
		default:
			fmt.Fprintf(w, "%8dT", i/1000000000000)
		}
	}
}

// addrPortName is ipvsadm's addrport_to_anyname: "1.2.3.4:80",
// "[2001:db8::1]:80", with names unless numeric.
func addrPortName(af Family, a netip.Addr, port uint16, p Protocol, f Format, r Resolver) string {
	host, portName := "", ""
	if f&FormatNumeric == 0 && r != nil {
		if n, ok := r.HostName(a); ok {
			host = n
		}
		if n, ok := r.ServiceName(port, p); ok {
			portName = n
		}
	}
	if host == "" {
		host = ntop(af, a)
	}
	if portName == "" {
		portName = strconv.Itoa(int(port))
	}
	var s string
	if af == FamilyIPv4 {
		s = host + ":" + portName
	} else {
		s = "[" + host + "]:" + portName
	}
	if len(s) > 59 { // ipvsadm formats into a 60-byte buffer
		s = s[:59]
	}
	return s
}

// ntop formats a like glibc's inet_ntop for family af.
func ntop(af Family, a netip.Addr) string {
	b := addrBytes(a)
	if af == FamilyIPv4 {
		return netip.AddrFrom4([4]byte{b[0], b[1], b[2], b[3]}).String() // dotted decimal, as inet_ntop
	}
	return ntop6(b)
}

// addrBytes returns a as the kernel's union nf_inet_addr holds it: an IPv4
// address in the first four bytes, the rest zero.
func addrBytes(a netip.Addr) [16]byte {
	var b [16]byte
	switch {
	case a.Is4():
		v4 := a.As4()
		copy(b[:], v4[:])
	case a.Is6():
		b = a.As16()
	}
	return b
}

// ntop6 is the BIND/glibc inet_ntop6 algorithm: the longest run of two or
// more zero words becomes "::" (the first such run on a tie), and an
// IPv4-compatible or IPv4-mapped address ends in dotted quad.
func ntop6(b [16]byte) string {
	var words [8]uint16
	for i := range words {
		words[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	bestBase, bestLen, curBase, curLen := -1, 0, -1, 0
	for i := 0; i < 8; i++ {
		if words[i] == 0 {
			if curBase == -1 {
				curBase, curLen = i, 1
			} else {
				curLen++
			}
		} else if curBase != -1 {
			if bestBase == -1 || curLen > bestLen {
				bestBase, bestLen = curBase, curLen
			}
			curBase = -1
		}
	}
	if curBase != -1 && (bestBase == -1 || curLen > bestLen) {
		bestBase, bestLen = curBase, curLen
	}
	if bestBase != -1 && bestLen < 2 {
		bestBase = -1
	}
	var sb strings.Builder
	for i := 0; i < 8; i++ {
		if bestBase != -1 && i >= bestBase && i < bestBase+bestLen {
			if i == bestBase {
				sb.WriteByte(':')
			}
			continue
		}
		if i != 0 {
			sb.WriteByte(':')
		}
		if i == 6 && bestBase == 0 && (bestLen == 6 || (bestLen == 5 && words[5] == 0xffff)) {
			fmt.Fprintf(&sb, "%d.%d.%d.%d", b[12], b[13], b[14], b[15])
			return sb.String()
		}
		sb.WriteString(strconv.FormatUint(uint64(words[i]), 16))
	}
	if bestBase != -1 && bestBase+bestLen == 8 {
		sb.WriteByte(':')
	}
	return sb.String()
}

// ipvsadmCompareServices is libipvs's ipvs_cmp_services, including its
// int-typed subtraction of unsigned values (which wraps for values more than
// 2^31 apart: ipvsadm then lists 10.0.0.1 after 192.168.0.1, and so do we).
func ipvsadmCompareServices(a, b Service) int {
	if r := int32(a.FWMark - b.FWMark); r != 0 {
		return int(r)
	}
	if r := int(a.Family) - int(b.Family); r != 0 {
		return r
	}
	if r := int(a.Protocol) - int(b.Protocol); r != 0 {
		return r
	}
	if r := compareAddrWords(a.Family, addrBytes(a.Address), addrBytes(b.Address)); r != 0 {
		return r
	}
	return int(a.Port) - int(b.Port)
}

// ipvsadmCompareDests is libipvs's ipvs_cmp_dests (same wrapping).
func ipvsadmCompareDests(a, b Destination) int {
	if r := compareAddrWords(a.AddrFamily(), addrBytes(a.Address), addrBytes(b.Address)); r != 0 {
		return r
	}
	return int(a.Port) - int(b.Port)
}

func compareAddrWords(af Family, a, b [16]byte) int {
	n := 1
	if af == FamilyIPv6 {
		n = 4
	}
	for i := 0; i < n; i++ {
		r := int32(binary.BigEndian.Uint32(a[4*i:]) - binary.BigEndian.Uint32(b[4*i:]))
		if r != 0 {
			return int(r)
		}
	}
	return 0
}

// mergeSort sorts like glibc's qsort (a top-down merge sort taking the left
// element on ties), so that even ipvsadm's non-transitive comparators give
// the order ipvsadm prints.
func mergeSort[T any](xs []T, cmp func(a, b T) int) {
	if len(xs) <= 1 {
		return
	}
	tmp := make([]T, len(xs))
	msort(xs, tmp, cmp)
}

func msort[T any](xs, tmp []T, cmp func(a, b T) int) {
	n := len(xs)
	if n <= 1 {
		return
	}
	n1 := n / 2
	b1, b2 := xs[:n1], xs[n1:]
	msort(b1, tmp, cmp)
	msort(b2, tmp, cmp)
	i, j, k := 0, 0, 0
	for i < len(b1) && j < len(b2) {
		if cmp(b1[i], b2[j]) <= 0 {
			tmp[k] = b1[i]
			i++
		} else {
			tmp[k] = b2[j]
			j++
		}
		k++
	}
	k += copy(tmp[k:], b1[i:])
	// What is left of b2 is already in place.
	copy(xs, tmp[:k])
}

// WriteDaemons writes the "ipvsadm -L --daemon" lines for ds.
func WriteDaemons(w io.Writer, ds []Daemon) error {
	bw := bufio.NewWriter(w)
	for _, d := range ds {
		if d.State != DaemonMaster && d.State != DaemonBackup {
			continue
		}
		fmt.Fprintf(bw, "%s sync daemon (mcast=%s, syncid=%d", d.State, d.Interface, int32(d.SyncID))
		if d.MaxLen != 0 {
			fmt.Fprintf(bw, ", maxlen=%d", d.MaxLen)
		}
		if d.Group.IsValid() {
			fmt.Fprintf(bw, ", group=%s", ntop(FamilyOf(d.Group), d.Group))
		}
		if d.Port != 0 {
			fmt.Fprintf(bw, ", port=%d", d.Port)
		}
		if d.TTL != 0 {
			fmt.Fprintf(bw, ", ttl=%d", d.TTL)
		}
		bw.WriteString(")\n")
	}
	return bw.Flush()
}
