package table

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// ServicePort is a port and protocol, the key of a services database.
type ServicePort struct {
	Port     uint16
	Protocol Protocol
}

// ParseServices reads a services(5) database and returns, for each port and
// protocol, the first name listed (what getservbyport returns).
func ParseServices(r io.Reader) (map[ServicePort]string, error) {
	out := make(map[ServicePort]string)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		portStr, proto, ok := strings.Cut(f[1], "/")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil {
			continue
		}
		var p Protocol
		switch proto {
		case "tcp":
			p = ProtoTCP
		case "udp":
			p = ProtoUDP
		case "sctp":
			p = ProtoSCTP
		default:
			continue
		}
		k := ServicePort{Port: uint16(port), Protocol: p}
		if _, dup := out[k]; !dup {
			out[k] = f[0]
		}
	}
	return out, sc.Err()
}

// SystemResolver names addresses with the host's resolver (/etc/hosts, then
// DNS as configured) and ports with /etc/services, like ipvsadm without -n.
// It caches answers; it is not safe for concurrent use.
type SystemResolver struct {
	// LookupAddr does reverse lookups; nil means net.DefaultResolver.
	LookupAddr func(ctx context.Context, addr string) ([]string, error)
	// Timeout bounds each reverse lookup; 0 means 2 seconds.
	Timeout time.Duration
	// Services maps ports to names; see ParseServices.
	Services map[ServicePort]string

	hosts   map[netip.Addr]string
	dnsDead bool // a lookup timed out: do not wait on the resolver again
}

// NewSystemResolver returns a SystemResolver reading /etc/services (a
// missing file means no port names).
func NewSystemResolver() *SystemResolver {
	r := &SystemResolver{}
	if f, err := os.Open("/etc/services"); err == nil {
		r.Services, _ = ParseServices(f)
		f.Close()
	}
	return r
}

// HostName implements Resolver.
func (r *SystemResolver) HostName(a netip.Addr) (string, bool) {
	if n, ok := r.hosts[a]; ok {
		return n, n != ""
	}
	if r.dnsDead {
		return "", false
	}
	if r.hosts == nil {
		r.hosts = make(map[netip.Addr]string)
	}
	lookup := r.LookupAddr
	if lookup == nil {
		lookup = net.DefaultResolver.LookupAddr
	}
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	name := ""
	names, err := lookup(ctx, a.String())
	if err == nil && len(names) > 0 {
		name = strings.TrimSuffix(names[0], ".")
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		// ipvsadm would wait this long for every address; a listing of a
		// big table would take minutes. Print numbers from now on.
		r.dnsDead = true
	}
	r.hosts[a] = name
	return name, name != ""
}

// ServiceName implements Resolver.
func (r *SystemResolver) ServiceName(port uint16, p Protocol) (string, bool) {
	n, ok := r.Services[ServicePort{Port: port, Protocol: p}]
	return n, ok
}
