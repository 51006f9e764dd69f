package alert

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MailConfig is keepalived's e-mail alerting: notification_email (To),
// notification_email_from (From), smtp_server (Server, host:port),
// smtp_connect_timeout (Timeout), smtp_helo_name (HELO). Plain SMTP, no
// authentication, as keepalived.
type MailConfig struct {
	To      []string
	From    string
	Server  string        // host:port
	Timeout time.Duration // connecting, and then the whole SMTP exchange; 0 = 30s
	HELO    string        // default "localhost"
}

func (c MailConfig) enabled() bool { return len(c.To) > 0 && c.Server != "" }

// Message is one alert.
type Message struct {
	Subject, Body string
	At            time.Time // the event's time (the Date header); zero = when sent
}

// mailQueue bounds the mails waiting for the sender.
const mailQueue = 64

// mailer sends queued messages one after the other from its own goroutine.
type mailer struct {
	cfg MailConfig
	log *slog.Logger
	q   chan Message

	mu       sync.Mutex
	closed   bool
	stop     chan struct{}
	deadline time.Time
	done     chan struct{}
	cur      net.Conn // the exchange under way, closed by close past its deadline

	sent, failed, dropped atomic.Uint64
}

func startMailer(cfg MailConfig, log *slog.Logger) *mailer {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.HELO == "" {
		cfg.HELO = "localhost"
	}
	m := &mailer{cfg: cfg, log: log.With("smtp_server", cfg.Server), q: make(chan Message, mailQueue),
		stop: make(chan struct{}), done: make(chan struct{})}
	go m.run()
	return m
}

func (m *mailer) counters() (sent, failed, dropped uint64) {
	return m.sent.Load(), m.failed.Load(), m.dropped.Load()
}

// enqueue queues a message, or drops it (counted, logged) if the queue is
// full (the server slow or unreachable).
func (m *mailer) enqueue(msg Message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		select {
		case m.q <- msg:
			return
		default:
		}
	}
	m.dropped.Add(1)
	m.log.Warn("e-mail alert dropped: the queue is full (the SMTP server slow or unreachable) or lbd is stopping",
		"subject", msg.Subject, "queue", mailQueue)
}

func (m *mailer) run() {
	defer close(m.done)
	serveQueue(m.q, m.stop, func(msg Message) { m.deliver(msg, time.Time{}) }, m.drainOne)
}

// drainOne sends a message queued before Close, if the deadline allows.
func (m *mailer) drainOne(msg Message) {
	if time.Now().After(m.deadline) {
		m.dropped.Add(1)
		m.log.Warn("e-mail alert dropped: lbd stopping", "subject", msg.Subject)
		return
	}
	m.deliver(msg, m.deadline)
}

func (m *mailer) deliver(msg Message, deadline time.Time) {
	start := time.Now()
	if err := m.send(msg, deadline); err != nil {
		m.failed.Add(1)
		m.log.Error("e-mail alert not sent", "subject", msg.Subject, "to", strings.Join(m.cfg.To, ","), "err", err)
		return
	}
	m.sent.Add(1)
	m.log.Info("e-mail alert sent", "subject", msg.Subject, "to", strings.Join(m.cfg.To, ","),
		"took", time.Since(start).Round(time.Millisecond))
}

// send runs one SMTP exchange: HELO, MAIL, RCPT per recipient, DATA,
// QUIT, bounded by the timeout (and by deadline if set).
func (m *mailer) send(msg Message, deadline time.Time) error {
	dl := time.Now().Add(m.cfg.Timeout)
	if !deadline.IsZero() && deadline.Before(dl) {
		dl = deadline
	}
	conn, err := net.DialTimeout("tcp", m.cfg.Server, time.Until(dl))
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", m.cfg.Server, err)
	}
	m.mu.Lock()
	m.cur = conn
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.cur = nil
		m.mu.Unlock()
		conn.Close()
	}()
	if err := conn.SetDeadline(dl); err != nil {
		return fmt.Errorf("setting the SMTP deadline: %w", err)
	}
	host, _, _ := net.SplitHostPort(m.cfg.Server)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("SMTP greeting from %s: %w", m.cfg.Server, err)
	}
	defer c.Close()
	if err := c.Hello(m.cfg.HELO); err != nil {
		return fmt.Errorf("HELO: %w", err)
	}
	if err := c.Mail(m.cfg.From); err != nil {
		return fmt.Errorf("MAIL FROM:<%s>: %w", m.cfg.From, err)
	}
	for _, to := range m.cfg.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("RCPT TO:<%s>: %w", to, err)
		}
	}
	wc, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := wc.Write(m.compose(msg)); err != nil {
		return fmt.Errorf("writing the message: %w", err)
	}
	if err := wc.Close(); err != nil {
		return fmt.Errorf("end of DATA: %w", err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("QUIT: %w", err)
	}
	return nil
}

// compose is the message with keepalived's headers.
func (m *mailer) compose(msg Message) []byte {
	at := msg.At
	if at.IsZero() {
		at = time.Now()
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", m.cfg.From)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(m.cfg.To, ", "))
	fmt.Fprintf(&b, "Date: %s\r\n", at.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Subject: %s\r\n", msg.Subject)
	b.WriteString("X-Mailer: lbd\r\n\r\n")
	b.WriteString(msg.Body)
	b.WriteString("\r\n")
	return b.Bytes()
}

// close lets the queued messages go until deadline, then stops.
func (m *mailer) close(deadline time.Time) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed, m.deadline = true, deadline
	close(m.stop)
	m.mu.Unlock()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-m.done:
		return
	case <-t.C:
	}
	m.mu.Lock()
	if m.cur != nil {
		_ = m.cur.Close() // an exchange begun before the close, past the deadline
	}
	m.mu.Unlock()
	<-m.done
}
