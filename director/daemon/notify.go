package daemon

import (
	"reflect"
	"time"

	"github.com/lvsd/lb/director/alert"
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/vrrp"
)

// notifyCloseGrace is how long the last notices (the STOP lines and mails
// of a shutdown, or those queued before a reload replaced the notifier)
// have to go out.
const notifyCloseGrace = 3 * time.Second

// notifierState is the notifier in force and what built it.
type notifierState struct {
	n        *alert.Notifier
	cfg      config.Notify
	routerID string
}

// setNotifier makes the notifier follow next's notify section: unchanged,
// it is kept (with its counters and queues); changed, a new one replaces
// it and the old one drains in the background.
func (d *Daemon) setNotifier(next *config.Director) {
	d.mu.Lock()
	old := d.notify
	if reflect.DeepEqual(old.cfg, next.Notify) && old.routerID == next.Global.RouterID {
		d.mu.Unlock()
		return
	}
	var n *alert.Notifier
	if c := notifierConfig(next); len(c.FIFOs) > 0 || len(c.Mail.To) > 0 {
		for i := range c.FIFOs {
			c.FIFOs[i].Exec = d.scripts
		}
		n = alert.New(c)
	}
	d.notify = notifierState{n: n, cfg: next.Notify, routerID: next.Global.RouterID}
	var snap alert.Counters
	if old.n != nil {
		snap = old.n.Counters()
		d.notifyTot = addCounters(d.notifyTot, snap)
	}
	d.mu.Unlock()
	if old.n != nil {
		go func() { // its last lines and mails go out, and are counted
			old.n.Close(time.Now().Add(notifyCloseGrace))
			rest := old.n.Counters()
			d.mu.Lock()
			d.notifyTot = addCounters(d.notifyTot, alert.Counters{FIFOLines: rest.FIFOLines - snap.FIFOLines,
				FIFODropped: rest.FIFODropped - snap.FIFODropped, MailSent: rest.MailSent - snap.MailSent,
				MailFailed: rest.MailFailed - snap.MailFailed, MailDropped: rest.MailDropped - snap.MailDropped})
			d.mu.Unlock()
		}()
	}
}

// notifierConfig translates the notify section.
func notifierConfig(cfg *config.Director) alert.Config {
	nc := cfg.Notify
	c := alert.Config{PriorityChanges: nc.PriorityChanges, RouterID: cfg.Global.RouterID}
	if nc.FIFO != "" {
		c.FIFOs = append(c.FIFOs, alert.FIFOConfig{Path: nc.FIFO, Script: nc.FIFOScript})
	}
	if nc.VRRPFIFO != "" {
		c.FIFOs = append(c.FIFOs, alert.FIFOConfig{Path: nc.VRRPFIFO, Script: nc.VRRPFIFOScript})
	}
	if e := nc.Email; len(e.To) > 0 && e.SMTPServer != "" {
		addr, _ := config.SMTPAddress(e.SMTPServer) // validated when loading
		c.Mail = alert.MailConfig{To: e.To, From: e.From, Server: addr, Timeout: e.ConnectTimeout, HELO: e.HELOName}
	}
	return c
}

// onNotice is every router's OnNotice: it hands the notice to the
// notifier, which only queues. It runs on the router's goroutine.
func (d *Daemon) onNotice(ev vrrp.Notice) {
	d.mu.Lock()
	n, cfg := d.notify.n, d.cfg
	d.mu.Unlock()
	if n == nil {
		return
	}
	n.Notice(ev, smtpAlert(cfg, ev))
}

// smtpAlert reports whether the notice's instance or sync group mails its
// transitions: its smtp_alert, else notify.email.alert.
func smtpAlert(cfg *config.Director, ev vrrp.Notice) bool {
	var own *bool
	if ev.Group {
		for i := range cfg.VRRP.SyncGroups {
			if g := &cfg.VRRP.SyncGroups[i]; g.Name == ev.Name {
				own = g.SMTPAlert
			}
		}
	} else if in := cfg.VRRP.Instance(ev.Name); in != nil {
		own = in.SMTPAlert
	}
	if own != nil {
		return *own
	}
	return cfg.Notify.Email.Alert
}

// closeNotifier lets the last notices go out (bounded) and stops the
// notifier; lbd is stopping.
func (d *Daemon) closeNotifier() {
	d.mu.Lock()
	n := d.notify.n
	d.mu.Unlock()
	n.Close(time.Now().Add(notifyCloseGrace))
}

// NotifyCounters returns the notifier's totals since lbd started, those of
// notifiers replaced by reloads included.
func (d *Daemon) NotifyCounters() alert.Counters {
	d.mu.Lock()
	n, total := d.notify.n, d.notifyTot
	d.mu.Unlock()
	return addCounters(total, n.Counters())
}

func addCounters(a, b alert.Counters) alert.Counters {
	return alert.Counters{FIFOLines: a.FIFOLines + b.FIFOLines, FIFODropped: a.FIFODropped + b.FIFODropped,
		MailSent: a.MailSent + b.MailSent, MailFailed: a.MailFailed + b.MailFailed, MailDropped: a.MailDropped + b.MailDropped}
}
