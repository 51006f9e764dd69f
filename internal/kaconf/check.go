package kaconf

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lb/healthcheck"

	"github.com/lvsd/lb/internal/config"
)

// keepalived's checker defaults that lbd does not share.
const (
	kaDelayLoop        = 60 * time.Second // KEEPALIVED_DEFAULT_DELAY
	kaConnectTimeout   = 5 * time.Second
	kaDelayBeforeRetry = time.Second     // any checker but HTTP_GET/SSL_GET (3s) and DNS_CHECK (delay_loop)
	kaHTTPDelay        = 3 * time.Second // HTTP_GET, SSL_GET
	kaDNSRetry         = 3
)

// checkBuild is a checker being read.
type checkBuild struct {
	c           config.Check
	node        *Node
	connectPort bool          // connect_port was given
	connSet     bool          // a connection keyword was given (SMTP_CHECK host blocks)
	miscTimeout time.Duration // MISC_CHECK misc_timeout; 0: keepalived uses the virtual server's delay_loop
	host        string        // the checker's virtualhost
	sni         *Node         // enable_sni
	urlHosts    []urlHost     // per-url virtualhost
	replyLen    *Node         // UDP_CHECK min_reply_length or max_reply_length
}

type urlHost struct {
	node *Node
	host string
}

var checkerKinds = map[string]config.CheckType{
	"HTTP_GET": config.CheckHTTP, "SSL_GET": config.CheckHTTPS, "TCP_CHECK": config.CheckTCP,
	"MISC_CHECK": config.CheckScript, "DNS_CHECK": config.CheckDNS,
	"UDP_CHECK": config.CheckUDP, "PING_CHECK": config.CheckPing, "SMTP_CHECK": config.CheckSMTP,
}

// The keywords each kind of checker maps.
var (
	checkerCommon     = []string{"retry", "delay_before_retry", "warmup", "delay_loop", "alpha"}
	checkerConnection = []string{"connect_ip", "connect_port", "bindto", "connect_timeout"} // not MISC_CHECK
	checkerHTTP       = []string{"url", "nb_get_retry", "virtualhost", "enable_sni"}
	checkerMisc       = []string{"misc_path", "misc_timeout", "misc_dynamic", "user"}
	checkerDNS        = []string{"type", "name"}
	checkerUDP        = []string{"payload", "require_reply", "min_reply_length", "max_reply_length"}
	checkerSMTP       = []string{"helo_name", "host"}
	urlMapped         = []string{"path", "digest", "status_code", "virtualhost"}
)

var dnsTypes = []string{"A", "AAAA", "NS", "MX", "TXT", "SOA", "CNAME", "PTR", "SRV"}

// checker reads HTTP_GET, SSL_GET, TCP_CHECK, MISC_CHECK, DNS_CHECK,
// UDP_CHECK, PING_CHECK and SMTP_CHECK.
func (m *mapper) checker(r *realBuild, n *Node) {
	if !m.block(n, 0, 0) {
		return
	}
	cb := &checkBuild{node: n, c: config.Check{Type: checkerKinds[n.Key]}}
	c := &cb.c
	mapped := slices.Clone(checkerCommon)
	if c.Type != config.CheckScript {
		mapped = append(mapped, checkerConnection...)
	}
	switch c.Type {
	case config.CheckHTTP, config.CheckHTTPS:
		mapped = append(mapped, checkerHTTP...)
	case config.CheckScript:
		mapped = append(mapped, checkerMisc...)
	case config.CheckDNS:
		mapped = append(mapped, checkerDNS...)
	case config.CheckUDP:
		mapped = append(mapped, checkerUDP...)
	case config.CheckSMTP:
		mapped = append(mapped, checkerSMTP...)
	}
	var hosts []*Node
	for _, s := range n.Block {
		if !slices.Contains(mapped, s.Key) {
			m.other(s, n.Key, checkerUnsupported, mapped)
			continue
		}
		if slices.Contains(checkerConnection, s.Key) {
			cb.connSet = true
		}
		if m.timing(&c.Timing, s) || m.connection(cb, s) || m.udpSMTPKeyword(cb, s) {
			continue
		}
		switch s.Key {
		case "host":
			hosts = append(hosts, s)
		case "url":
			m.url(cb, s)
		case "virtualhost":
			if m.leaf(s, 1, 1) {
				cb.host = s.Args[0]
			}
		case "enable_sni":
			if v, ok := m.flag(s); ok && v {
				cb.sni = s
			} else if ok {
				cb.sni = nil
			}
		case "misc_path":
			if argv, ok := m.command(s); ok {
				c.Command = argv
			}
		case "misc_timeout":
			if m.leaf(s, 1, 1) {
				if v, ok := value(m, s, 0, wholeSecondsIn(0, 1<<31)); ok {
					cb.miscTimeout = v
				}
			}
		case "misc_dynamic":
			if m.leaf(s, 0, 0) {
				c.Dynamic = true
			}
		case "user":
			if w, ok := m.user(s); ok {
				c.User, c.Group = w.User, w.Group
			}
		case "type":
			if m.leaf(s, 1, 1) {
				t := strings.ToUpper(s.Args[0])
				if !slices.Contains(dnsTypes, t) {
					m.errorf(s.Pos, "type: unknown DNS record type %q (want one of %s)", s.Args[0], strings.Join(dnsTypes, " "))
					continue
				}
				c.QueryType = config.DNSType(t)
			}
		case "name":
			if m.leaf(s, 1, 1) {
				c.QueryName = s.Args[0]
			}
		}
	}
	if c.Type == config.CheckHTTP && cb.sni != nil {
		m.unmapped(cb.sni, "SNI applies to SSL_GET only")
		cb.sni = nil
	}
	r.checks = append(r.checks, m.smtpHosts(cb, hosts)...)
}

// connection reads connect_ip, bindto and connect_port into cb; false for
// any other keyword.
func (m *mapper) connection(cb *checkBuild, s *Node) bool {
	c := &cb.c
	switch s.Key {
	case "connect_ip", "bindto":
		if m.leaf(s, 1, 1) {
			if a, ok := value(m, s, 0, parseAddr); ok {
				if s.Key == "bindto" {
					c.BindTo = a
				} else {
					c.ConnectIP = a
				}
			}
		}
	case "connect_port":
		if c.Type == config.CheckPing {
			m.notef(s.Pos, "connect_port: a ping has no port; keepalived ignores it, and so does lbd")
		} else if m.leaf(s, 1, 1) {
			if v, ok := value(m, s, 0, uintIn(1, 65535)); ok {
				c.ConnectPort, cb.connectPort = uint16(v), true
			}
		}
	default:
		return false
	}
	return true
}

// url reads "url { path P digest D status_code 200 300-399 virtualhost H }".
func (m *mapper) url(cb *checkBuild, n *Node) {
	if !m.block(n, 0, 0) {
		return
	}
	var u config.URL
	host := ""
	for _, s := range n.Block {
		switch s.Key {
		case "path":
			if m.leaf(s, 1, 1) {
				u.Path = s.Args[0]
			}
		case "digest":
			if m.leaf(s, 1, 1) {
				d := strings.ToLower(s.Args[0])
				if len(d) != 32 || strings.Trim(d, "0123456789abcdef") != "" {
					m.errorf(s.Pos, "digest: %q is not an MD5 sum (32 hexadecimal digits)", s.Args[0])
					continue
				}
				u.Digest = d
			}
		case "status_code":
			if m.leaf(s, 1, -1) {
				for _, w := range s.Args {
					r, ok := statusRange(w)
					if !ok {
						m.errorf(s.Pos, "status_code: %q is not a code (100-599) or a range such as 200-299", w)
						continue
					}
					u.StatusCodes = append(u.StatusCodes, r)
				}
			}
		case "virtualhost":
			if m.leaf(s, 1, 1) {
				host = s.Args[0]
			}
		default:
			m.other(s, "url", urlUnsupported, urlMapped)
		}
	}
	if u.Path == "" {
		m.unmapped(n, "url without path: keepalived ignores it")
		return
	}
	if !strings.HasPrefix(u.Path, "/") {
		m.unmapped(n, "url path %q does not start with \"/\": lbd needs an absolute path", u.Path)
		return
	}
	cb.c.URLs = append(cb.c.URLs, u)
	cb.urlHosts = append(cb.urlHosts, urlHost{node: n, host: host})
}

func statusRange(w string) (config.StatusRange, bool) {
	lo, hi, isRange := strings.Cut(w, "-")
	l, err1 := strconv.Atoi(lo)
	h, err2 := l, error(nil)
	if isRange {
		h, err2 = strconv.Atoi(hi)
	}
	if err1 != nil || err2 != nil || l < 100 || h > 599 || l > h {
		return config.StatusRange{}, false
	}
	return config.StatusRange{Lo: l, Hi: h}, true
}

// completeCheck resolves a checker against its real server: the Host
// header, SNI, and the port of a fwmark real server whose port keepalived
// cleared; false when the checker cannot be imported.
func (m *mapper) completeCheck(cb *checkBuild, inherited string, writtenPort int, rs *config.RealServer) bool {
	c := &cb.c
	switch c.Type {
	case config.CheckHTTP, config.CheckHTTPS:
		if len(c.URLs) == 0 {
			m.unmapped(cb.node, "%s without a url: keepalived does not run it", cb.node.Key)
			return false
		}
		host := cb.host
		if host == "" {
			host = inherited
		}
		// A url's own virtualhost wins; lbd has one Host per check.
		urlHost := ""
		for i, u := range cb.urlHosts {
			switch {
			case u.host == "":
			case i == 0 || urlHost == "":
				urlHost = u.host
			case u.host != urlHost:
				m.unmappedWord(u.node, "virtualhost", "url virtualhost %q differs from %q of an earlier url: lbd sends one Host per check", u.host, urlHost)
			}
		}
		if urlHost != "" {
			for _, u := range cb.urlHosts {
				if u.host == "" && host != urlHost {
					m.unmappedWord(u.node, "virtualhost", "this url would use Host %q but lbd sends %q (another url's) for the whole check", host, urlHost)
				}
			}
			host = urlHost
		}
		c.VirtualHost = host
		if c.Type == config.CheckHTTPS {
			switch {
			case cb.sni != nil:
				if host == "" {
					m.notef(cb.sni.Pos, "enable_sni without a virtualhost: no name to send")
				}
			case host != "":
				m.notef(cb.node.Pos, "lbd sends the virtualhost %q as TLS SNI; keepalived sends none without enable_sni", host)
			}
		}
	case config.CheckScript:
		if c.Command == nil {
			m.unmapped(cb.node, "MISC_CHECK without misc_path: keepalived does not run it")
			return false
		}
	case config.CheckUDP:
		m.completeUDP(cb)
	}
	if c.Type == config.CheckPing {
		return true
	}
	if rs.Port == 0 && writtenPort > 0 && !cb.connectPort && c.Type != config.CheckScript {
		c.ConnectPort = uint16(writtenPort)
	}
	if rs.Port == 0 && c.ConnectPort == 0 && c.Type != config.CheckScript {
		m.unmapped(cb.node, "the real server has no port and the checker no connect_port: nothing to connect to")
		return false
	}
	return true
}

// fixTiming writes on check c the timing values keepalived would use where
// lbd's inheritance (check, real server, virtual server, lbd's defaults)
// would give something else: keepalived's per-checker defaults for retry
// and delay_before_retry, its warm-up of up to one delay_loop, and the
// timeout of a MISC_CHECK (misc_timeout, else the virtual server's
// delay_loop).
func fixTiming(vs *config.VirtualServer, rs *config.RealServer, c *config.Check, cb *checkBuild) {
	levels := []*config.Timing{&c.Timing, &rs.Timing, &vs.Timing}
	first := func(get func(*config.Timing) bool) *config.Timing {
		for _, l := range levels {
			if get(l) {
				return l
			}
		}
		return nil
	}
	ka := healthcheck.Timing{
		DelayLoop:      kaDelayLoop,
		ConnectTimeout: kaConnectTimeout,
		Retry:          1,
	}
	if l := first(func(t *config.Timing) bool { return t.DelayLoop != nil }); l != nil {
		ka.DelayLoop = *l.DelayLoop
	}
	if l := first(func(t *config.Timing) bool { return t.ConnectTimeout != nil }); l != nil {
		ka.ConnectTimeout = *l.ConnectTimeout
	}
	switch c.Type {
	case config.CheckScript:
		ka.Retry = 0
		ka.ConnectTimeout = cb.miscTimeout
		if ka.ConnectTimeout == 0 {
			ka.ConnectTimeout = kaDelayLoop
			if vs.DelayLoop != nil {
				ka.ConnectTimeout = *vs.DelayLoop
			}
		}
	case config.CheckDNS:
		ka.Retry = kaDNSRetry
	}
	if l := first(func(t *config.Timing) bool { return t.Retry != nil }); l != nil {
		ka.Retry = *l.Retry
	}
	switch c.Type {
	case config.CheckHTTP, config.CheckHTTPS:
		ka.DelayBeforeRetry = kaHTTPDelay
	case config.CheckDNS:
		ka.DelayBeforeRetry = ka.DelayLoop
	default:
		ka.DelayBeforeRetry = kaDelayBeforeRetry
	}
	if l := first(func(t *config.Timing) bool { return t.DelayBeforeRetry != nil }); l != nil {
		ka.DelayBeforeRetry = *l.DelayBeforeRetry
	}
	ka.Warmup = ka.DelayLoop
	if l := first(func(t *config.Timing) bool { return t.Warmup != nil }); l != nil {
		ka.Warmup = *l.Warmup
	}
	if l := first(func(t *config.Timing) bool { return t.Alpha != nil }); l != nil {
		ka.Alpha = *l.Alpha
	}

	ours := vs.EffectiveCheck(rs, c)
	if ours.DelayLoop != ka.DelayLoop {
		c.DelayLoop = ptr(ka.DelayLoop)
	}
	if ours.ConnectTimeout != ka.ConnectTimeout {
		c.ConnectTimeout = ptr(ka.ConnectTimeout)
	}
	if ours.Retry != ka.Retry {
		c.Retry = ptr(ka.Retry)
	}
	if ours.DelayBeforeRetry != ka.DelayBeforeRetry {
		c.DelayBeforeRetry = ptr(ka.DelayBeforeRetry)
	}
	if ours.Warmup != ka.Warmup {
		c.Warmup = ptr(ka.Warmup)
	}
	if ours.Alpha != ka.Alpha {
		c.Alpha = ptr(ka.Alpha)
	}
}

func ptr[T any](v T) *T { return &v }
