package healthcheck

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// smtpChecker is keepalived's SMTP_CHECK: connect, read a 220 greeting,
// send HELO and read a 250 reply, send QUIT and read its reply (any
// code). Unlike keepalived, which reads one line per reply, multi-line
// replies ("250-...") are read to their last line, whose code counts.
type smtpChecker struct {
	dialer net.Dialer
	target string
	helo   string
}

// maxSMTPReply bounds the lines of one reply, so a server streaming
// continuation lines cannot hold a check past its deadline's reads.
const maxSMTPReply = 64

func newSMTPChecker(s Spec) *smtpChecker {
	c := &smtpChecker{target: s.Target.String(), helo: s.HeloName}
	c.dialer.KeepAlive = -1
	if s.BindTo.IsValid() {
		c.dialer.LocalAddr = &net.TCPAddr{IP: s.BindTo.AsSlice(), Zone: s.BindTo.Zone()}
	}
	return c
}

func (c *smtpChecker) Check(ctx context.Context) Result {
	start := time.Now()
	r := c.check(ctx, start)
	r.Duration = time.Since(start)
	return r
}

func (c *smtpChecker) check(ctx context.Context, start time.Time) Result {
	budget := checkBudget(ctx, start)
	conn, err := c.dialer.DialContext(ctx, "tcp", c.target)
	if err != nil {
		return classifyNetErr(err, phaseConnect, budget)
	}
	defer conn.Close()
	defer boundConn(ctx, conn)()
	rd := bufio.NewReaderSize(conn, 1024)
	steps := []struct {
		send string // sent before reading the reply; "" for the greeting
		what string
		want int // 0: any code
	}{
		{"", "greeting", 220},
		{"HELO " + c.helo + "\r\n", "HELO", 250},
		{"QUIT\r\n", "QUIT", 0},
	}
	for _, st := range steps {
		if st.send != "" {
			if _, err := io.WriteString(conn, st.send); err != nil {
				return classifyNetErr(err, phaseRequest, budget)
			}
		}
		code, line, err := readSMTPReply(rd)
		if err != nil {
			r := classifyNetErr(err, phaseResponse, budget)
			r.Reason = "SMTP " + st.what + ": " + r.Reason
			return r
		}
		if st.want != 0 && code != st.want {
			return failResult(KindStatus, "SMTP %s: reply %q, want %d", st.what, line, st.want)
		}
	}
	return okResult("SMTP greeting 220, HELO 250, QUIT answered")
}

// readSMTPReply reads one reply, following "NNN-" continuation lines, and
// returns the code of its last line (-1 if that line has none) and the
// line.
func readSMTPReply(rd *bufio.Reader) (int, string, error) {
	for range maxSMTPReply {
		line, err := rd.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, "", errors.New("connection closed before a full reply")
			}
			return 0, "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) >= 4 && line[3] == '-' && isDigits(line[:3]) {
			continue
		}
		if len(line) < 3 || !isDigits(line[:3]) || len(line) > 3 && line[3] != ' ' {
			return -1, line, nil
		}
		code, _ := strconv.Atoi(line[:3])
		return code, line, nil
	}
	return 0, "", fmt.Errorf("reply longer than %d lines", maxSMTPReply)
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
