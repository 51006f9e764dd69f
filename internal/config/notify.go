package config

import (
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Notify is lbd.yaml's notify section: keepalived's notify FIFOs and
// e-mail alerts (global_defs notify_fifo, vrrp_notify_fifo,
// notification_email, smtp_server...). The director/alert package does
// the work.
type Notify struct {
	FIFO            string `yaml:"fifo"`             // notify_fifo: absolute path, created if missing
	FIFOScript      Argv   `yaml:"fifo_script"`      // notify_fifo_script: started with the FIFO's path appended
	VRRPFIFO        string `yaml:"vrrp_fifo"`        // vrrp_notify_fifo: the same lines (lbd's FIFO lines are all VRRP's)
	VRRPFIFOScript  Argv   `yaml:"vrrp_fifo_script"` // vrrp_notify_fifo_script
	PriorityChanges bool   `yaml:"priority_changes"` // vrrp_notify_priority_changes: MASTER_PRIORITY/BACKUP_PRIORITY lines
	Email           Email  `yaml:"email"`
}

// Email is keepalived's e-mail alerting on VRRP state transitions.
type Email struct {
	To             []string      `yaml:"to"`              // notification_email; none: no mail
	From           string        `yaml:"from"`            // notification_email_from; default lbd@<host name>
	SMTPServer     string        `yaml:"smtp_server"`     // smtp_server: "host", "host port" or "host:port"; port default 25
	ConnectTimeout time.Duration `yaml:"connect_timeout"` // smtp_connect_timeout; default 30s
	HELOName       string        `yaml:"helo_name"`       // smtp_helo_name; default the host name
	Alert          bool          `yaml:"alert"`           // smtp_alert: the default of instances' and sync groups' smtp_alert
}

// DefaultSMTPConnectTimeout is keepalived's smtp_connect_timeout.
const DefaultSMTPConnectTimeout = 30 * time.Second

func (r *report) notifyDefaults(n *Notify) {
	e := &n.Email
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	if e.From == "" {
		e.From = "lbd@" + host
	}
	if e.HELOName == "" {
		e.HELOName = host
	}
	if !r.has("notify.email.connect_timeout") {
		e.ConnectTimeout = DefaultSMTPConnectTimeout
	}
}

func (r *report) validateNotify(n *Notify) {
	const p = "notify"
	if n.FIFO != "" {
		r.absPath(p+".fifo", n.FIFO)
	}
	if n.VRRPFIFO != "" {
		r.absPath(p+".vrrp_fifo", n.VRRPFIFO)
		if n.VRRPFIFO == n.FIFO {
			r.errf(p+".vrrp_fifo", "the same FIFO as notify.fifo (each line would be written twice)")
		}
	}
	if len(n.FIFOScript) > 0 && n.FIFO == "" {
		r.errf(p+".fifo_script", "needs notify.fifo (the script is given the FIFO's path)")
	}
	if len(n.VRRPFIFOScript) > 0 && n.VRRPFIFO == "" {
		r.errf(p+".vrrp_fifo_script", "needs notify.vrrp_fifo (the script is given the FIFO's path)")
	}
	e := &n.Email
	for i, to := range e.To {
		r.mailbox(p+".email.to["+strconv.Itoa(i)+"]", to)
	}
	r.mailbox(p+".email.from", e.From)
	if strings.ContainsFunc(e.HELOName, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) }) || e.HELOName == "" {
		r.errf(p+".email.helo_name", "invalid HELO name %q (one word)", e.HELOName)
	}
	if e.ConnectTimeout <= 0 {
		r.errf(p+".email.connect_timeout", "must be positive, got %s", e.ConnectTimeout)
	}
	if e.SMTPServer != "" {
		if _, err := SMTPAddress(e.SMTPServer); err != nil {
			r.errf(p+".email.smtp_server", "%v", err)
		}
	}
	if len(e.To) > 0 && e.SMTPServer == "" {
		r.errf(p+".email.smtp_server", "required with notify.email.to (keepalived sends no mail without it)")
	}
}

// mailbox refuses an address that would break the SMTP exchange or the
// headers: empty, white space, control characters, angle brackets.
func (r *report) mailbox(path, a string) {
	if a == "" || strings.ContainsFunc(a, func(c rune) bool {
		return unicode.IsSpace(c) || unicode.IsControl(c) || c == '<' || c == '>' || c == ','
	}) {
		r.errf(path, "invalid e-mail address %q", a)
	}
}

// SMTPAddress turns smtp_server's "host", "host port" (keepalived's form)
// or "host:port" into host:port, the port 25 by default.
func SMTPAddress(s string) (string, error) {
	host, port := s, "25"
	if f := strings.Fields(s); len(f) == 2 {
		host, port = f[0], f[1]
	} else if len(f) != 1 {
		return "", errSMTP(s)
	} else if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	n, err := strconv.Atoi(port)
	if host == "" || strings.ContainsAny(host, "[]/ ") || err != nil || n < 1 || n > 65535 {
		return "", errSMTP(s)
	}
	return net.JoinHostPort(host, port), nil
}

type errSMTP string

func (e errSMTP) Error() string {
	return "invalid SMTP server " + strconv.Quote(string(e)) + ` (want "host", "host port" or "host:port", port 1-65535)`
}
