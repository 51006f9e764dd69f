// Package alert tells the outside world about VRRP events, as keepalived
// does: lines on notify FIFOs (keepalived's notify_fifo and
// vrrp_notify_fifo format and order) and e-mail on state transitions
// (notification_email, smtp_server). Nothing here ever blocks the VRRP
// routers: a Notifier only queues, on bounded queues, and its own
// goroutines write and send; what does not fit is dropped, counted and
// logged.
package alert

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lvsd/lb/vrrp"
)

// Config is what a Notifier does.
type Config struct {
	// FIFOs are the notify FIFOs (keepalived notify_fifo, vrrp_notify_fifo):
	// each gets every line. A missing FIFO is created (mode 0600) and
	// removed at Close.
	FIFOs []FIFOConfig
	// PriorityChanges writes the MASTER_PRIORITY and BACKUP_PRIORITY lines
	// (keepalived vrrp_notify_priority_changes); the other lines always go.
	PriorityChanges bool
	// Mail, if its To and Server are set, sends an e-mail per state
	// transition of the instances and groups Notice is told to mail.
	Mail MailConfig
	// RouterID names this director in the mails' subjects.
	RouterID string
	Logger   *slog.Logger
}

// Counters are a Notifier's totals since it started.
type Counters struct {
	FIFOLines   uint64 // lines written to a FIFO (one per FIFO)
	FIFODropped uint64 // lines lost: the queue full, or the FIFO unwritable (no reader draining it) or unopened
	MailSent    uint64
	MailFailed  uint64 // the SMTP server refused or could not be reached
	MailDropped uint64 // the mail queue was full
}

// Notifier queues VRRP notices for the FIFOs and the mailer.
type Notifier struct {
	cfg    Config
	log    *slog.Logger
	fifos  []*fifoWriter
	mailer *mailer

	mu       sync.Mutex
	lastMail map[string]string // "INSTANCE name" / "GROUP name" -> the last state mailed
}

// New starts a Notifier's writers and sender. A FIFO that cannot be
// opened is logged and its lines counted as dropped; the rest works.
func New(cfg Config) *Notifier {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{cfg: cfg, log: log, lastMail: map[string]string{}}
	for _, fc := range cfg.FIFOs {
		n.fifos = append(n.fifos, startFIFO(fc, log))
	}
	if cfg.Mail.enabled() {
		n.mailer = startMailer(cfg.Mail, log)
	}
	return n
}

// Line is a notice as keepalived writes it on its notify FIFO:
//
//	INSTANCE "VI_1" MASTER 100
//	GROUP "G1" BACKUP 0
//	INSTANCE "VI_1" MASTER_PRIORITY 90
func Line(n vrrp.Notice) string {
	kind := "INSTANCE"
	if n.Group {
		kind = "GROUP"
	}
	return fmt.Sprintf("%s \"%s\" %s %d\n", kind, n.Name, n.Event, n.Priority)
}

// Notice queues n for the FIFOs, and for the mailer when mail is set (the
// instance's or group's smtp_alert) and n is a state the last mail for the
// same instance or group did not already report. It never blocks.
func (n *Notifier) Notice(ev vrrp.Notice, mail bool) {
	if n == nil {
		return
	}
	if len(n.fifos) > 0 && (!ev.IsPriority() || n.cfg.PriorityChanges) {
		line := Line(ev)
		for _, f := range n.fifos {
			f.enqueue(line)
		}
	}
	if mail && n.mailer != nil {
		if m, ok := n.message(ev); ok {
			n.mailer.enqueue(m)
		}
	}
}

// message is the mail for a state notice, keepalived's subject and body,
// unless the last mail for the same instance or group said the same.
func (n *Notifier) message(ev vrrp.Notice) (Message, bool) {
	what := "Instance"
	if ev.Group {
		what = "Group"
	}
	var subject, body string
	switch ev.Event {
	case "MASTER":
		subject, body = "Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="
		if ev.Group {
			body = "=> All VRRP group instances are now in MASTER state <="
		}
	case "BACKUP", "FAULT":
		subject, body = "Entering "+ev.Event+" state", "=> VRRP Instance is no longer owning VRRP VIPs <="
		if ev.Group {
			body = "=> All VRRP group instances are now in " + ev.Event + " state <="
		}
	case "STOP":
		subject, body = "Stopping", "=> VRRP Instance stopping <="
		if ev.Group {
			body = "=> All VRRP group instances are now stopping <="
		}
	default:
		return Message{}, false
	}
	key := what + " " + ev.Name
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.lastMail[key] == ev.Event {
		return Message{}, false
	}
	n.lastMail[key] = ev.Event
	return Message{
		Subject: fmt.Sprintf("[%s] VRRP %s %s - %s", n.cfg.RouterID, what, ev.Name, subject),
		Body:    body,
		At:      ev.At,
	}, true
}

// Counters returns the totals so far.
func (n *Notifier) Counters() Counters {
	var c Counters
	if n == nil {
		return c
	}
	for _, f := range n.fifos {
		w, d := f.counters()
		c.FIFOLines += w
		c.FIFODropped += d
	}
	if n.mailer != nil {
		c.MailSent, c.MailFailed, c.MailDropped = n.mailer.counters()
	}
	return c
}

// Close stops taking notices, gives the queued ones until deadline to
// go out (the STOP lines and mails of a shutdown), then stops the writers
// and the sender, and removes the FIFOs it created.
func (n *Notifier) Close(deadline time.Time) {
	if n == nil {
		return
	}
	var wg sync.WaitGroup
	for _, f := range n.fifos {
		wg.Add(1)
		go func() { defer wg.Done(); f.close(deadline) }()
	}
	if n.mailer != nil {
		wg.Add(1)
		go func() { defer wg.Done(); n.mailer.close(deadline) }()
	}
	wg.Wait()
}

// serveQueue is the loop of the FIFO writers and the mailer: each item of q
// goes to send until stop closes; from then on, what is still queued (the
// item in hand included) goes to drain, whose deadline decides, and the
// loop returns once q is empty.
func serveQueue[T any](q <-chan T, stop <-chan struct{}, send, drain func(T)) {
	for {
		select {
		case item := <-q:
			select {
			case <-stop:
				drain(item)
			default:
				send(item)
			}
		case <-stop:
			for {
				select {
				case item := <-q:
					drain(item)
				default:
					return
				}
			}
		}
	}
}
