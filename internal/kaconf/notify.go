package kaconf

import (
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/lvsd/lb/internal/config"
)

// notifyGlobal are the global_defs keywords that map to lbd.yaml's notify
// section: keepalived's notify FIFOs and e-mail alerts.
var notifyGlobal = []string{
	"notification_email", "notification_email_from", "smtp_server", "smtp_connect_timeout",
	"smtp_helo_name", "smtp_alert", "smtp_alert_vrrp", "notify_fifo", "notify_fifo_script",
	"vrrp_notify_fifo", "vrrp_notify_fifo_script", "vrrp_notify_priority_changes",
}

// notifyState is what global_defs said about notifications, resolved once
// the whole block is read (smtp_alert_vrrp overrides smtp_alert whatever
// their order, as in keepalived).
type notifyState struct {
	alert, alertVRRP *bool
	emailNode        *Node // notification_email, for the report without smtp_server
	vrrpFIFONode     *Node
}

// notifyDef maps one of notifyGlobal; it reports whether c was one.
func (m *mapper) notifyDef(c *Node, st *notifyState) bool {
	n, e := &m.d.Notify, &m.d.Notify.Email
	switch c.Key {
	case "notification_email":
		if m.block(c, 0, 0) {
			st.emailNode = c
			for _, a := range c.Block {
				e.To = append(e.To, a.Words()...)
			}
		}
	case "notification_email_from":
		if m.leaf(c, 1, 1) {
			e.From = c.Args[0]
		}
	case "smtp_server":
		if m.leaf(c, 1, 2) {
			e.SMTPServer = strings.Join(c.Args, " ")
			if _, err := config.SMTPAddress(e.SMTPServer); err != nil {
				m.errorf(c.Pos, "smtp_server: %v", err)
			}
		}
	case "smtp_connect_timeout":
		if m.leaf(c, 1, 1) {
			if v, ok := value(m, c, 0, wholeSecondsIn(1, 86400)); ok {
				e.ConnectTimeout = v
			}
		}
	case "smtp_helo_name":
		if m.leaf(c, 1, 1) {
			e.HELOName = c.Args[0]
		}
	case "smtp_alert", "smtp_alert_vrrp":
		if v, ok := m.flag(c); ok {
			if c.Key == "smtp_alert" {
				st.alert = &v
			} else {
				st.alertVRRP = &v
			}
		}
	case "notify_fifo", "vrrp_notify_fifo":
		dst := &n.FIFO
		if c.Key == "vrrp_notify_fifo" {
			dst, st.vrrpFIFONode = &n.VRRPFIFO, c
		} else {
			m.notef(c.Pos, "notify_fifo: lbd writes keepalived's VRRP lines (INSTANCE, GROUP); it has no checker lines (VS, RS)")
		}
		m.fifo(c, dst)
	case "notify_fifo_script":
		n.FIFOScript, _ = m.command(c)
	case "vrrp_notify_fifo_script":
		n.VRRPFIFOScript, _ = m.command(c)
	case "vrrp_notify_priority_changes":
		if v, ok := m.flag(c); ok {
			n.PriorityChanges = v
		}
	default:
		return false
	}
	return true
}

// fifo reads "notify_fifo PATH [USER [GROUP]]".
func (m *mapper) fifo(c *Node, dst *string) {
	if !m.leaf(c, 1, 3) {
		return
	}
	if !filepath.IsAbs(c.Args[0]) {
		m.errorf(c.Pos, "%s: %q is not an absolute path", c.Key, c.Args[0])
		return
	}
	*dst = c.Args[0]
	if len(c.Args) > 1 {
		m.unmappedWord(c, strings.Join(c.Args[1:], " "), "%s owner: lbd creates the FIFO as its own user, mode 0600", c.Key)
	}
}

// resolveNotify applies what needs the whole global_defs: the mail
// default of instances and groups, and mail settings keepalived ignores.
func (m *mapper) resolveNotify(st *notifyState) {
	e := &m.d.Notify.Email
	switch {
	case st.alertVRRP != nil:
		e.Alert = *st.alertVRRP
	case st.alert != nil:
		e.Alert = *st.alert
	}
	if len(e.To) > 0 && e.SMTPServer == "" {
		m.notef(st.emailNode.Pos, "notification_email without smtp_server: keepalived sends no mail, and lbd.yaml needs both; the addresses are not imported")
		e.To = nil
	}
	if m.d.Notify.VRRPFIFO != "" && m.d.Notify.VRRPFIFO == m.d.Notify.FIFO {
		m.notef(st.vrrpFIFONode.Pos, "vrrp_notify_fifo is notify_fifo: imported once (lbd would write each line twice)")
		m.d.Notify.VRRPFIFO, m.d.Notify.VRRPFIFOScript = "", nil
	}
}

// notifySectionNode writes the notify section: what was given. Without
// notification_email_from the sender is lbd's default, lbd@HOST
// (keepalived's is keepalived@HOST; the host name is the director's, not
// the one running the import).
func notifySectionNode(n *config.Notify) ynode {
	out := newMap()
	if n.FIFO != "" {
		out.add("fifo", str(n.FIFO))
	}
	if len(n.FIFOScript) > 0 {
		out.add("fifo_script", argv(n.FIFOScript))
	}
	if n.VRRPFIFO != "" {
		out.add("vrrp_fifo", str(n.VRRPFIFO))
	}
	if len(n.VRRPFIFOScript) > 0 {
		out.add("vrrp_fifo_script", argv(n.VRRPFIFOScript))
	}
	if n.PriorityChanges {
		out.add("priority_changes", boolean(true))
	}
	e, em := n.Email, newMap()
	if len(e.To) > 0 {
		to := &yaml.Node{Kind: yaml.SequenceNode}
		for _, a := range e.To {
			to.Content = append(to.Content, quotedIfNeeded(a))
		}
		em.add("to", to)
	}
	if e.From != "" {
		em.add("from", quotedIfNeeded(e.From))
	}
	if e.SMTPServer != "" {
		em.add("smtp_server", quoted(e.SMTPServer))
	}
	if e.ConnectTimeout > 0 {
		em.add("connect_timeout", dur(e.ConnectTimeout))
	}
	if e.HELOName != "" {
		em.add("helo_name", quotedIfNeeded(e.HELOName))
	}
	if e.Alert {
		em.add("alert", boolean(true))
	}
	out.addIf("email", em)
	return out
}
