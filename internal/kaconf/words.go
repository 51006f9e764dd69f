package kaconf

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// splitQuoted splits s into words the way keepalived splits script lines:
// white space separates words; single and double quotes group (and are
// removed); a backslash takes the next character literally, and with
// escapes also decodes \n \t \xHH \NNN and the like.
func splitQuoted(s string, escapes bool) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("backslash at the end")
			}
			inWord = true
			if !escapes {
				w.WriteByte(c)
				w.WriteByte(s[i+1])
				i++
				continue
			}
			r, n := unescape(s[i+1:])
			w.WriteString(r)
			i += n
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				w.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
			inWord = true
		case strings.IndexByte(whiteSpace, c) >= 0:
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("missing terminating %c", quote)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// unescape decodes the escape after a backslash (s starts just after it)
// and returns the text and how many bytes of s it used.
func unescape(s string) (string, int) {
	switch c := s[0]; {
	case c == 'x' && len(s) > 1 && isHex(s[1]):
		n, v := 1, 0
		for n < 3 && n < len(s) && isHex(s[n]) {
			d, _ := strconv.ParseUint(s[n:n+1], 16, 8)
			v = v<<4 | int(d)
			n++
		}
		return string([]byte{byte(v)}), n // the byte, as keepalived
	case c == 'c' && len(s) > 1:
		return string(rune(s[1] & 0x1f)), 2
	case c >= '0' && c <= '7':
		n, v := 0, 0
		for n < 3 && n < len(s) && s[n] >= '0' && s[n] <= '7' {
			v = v<<3 | int(s[n]-'0')
			n++
		}
		return string([]byte{byte(v)}), n
	default:
		if r, ok := map[byte]string{'a': "\a", 'b': "\b", 'E': "\x1b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v"}[c]; ok {
			return r, 1
		}
		_, n := utf8.DecodeRuneInString(s) // the whole character, not its first byte
		return s[:n], n
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scriptWords splits a script statement such as
//
//	notify_master "/usr/local/bin/notify master" root
//
// the way keepalived does: the statement is split at white space with quotes
// grouping (no escapes), the second word is the command, split again with
// escapes into program and arguments, and any further words are the user and
// group to run it as.
func scriptWords(n *Node) (argv, user []string, err error) {
	words, err := splitQuoted(n.Text, false)
	if err != nil {
		return nil, nil, err
	}
	if len(words) < 2 {
		return nil, nil, errors.New("missing command")
	}
	argv, err = splitQuoted(words[1], true)
	if err != nil {
		return nil, nil, err
	}
	for i, a := range argv {
		if !utf8.ValidString(a) {
			return nil, nil, fmt.Errorf("argument %d (%q) is not UTF-8 text after its escapes: lbd.yaml cannot hold it", i, a)
		}
	}
	if len(argv) == 0 || argv[0] == "" {
		return nil, nil, errors.New("empty command")
	}
	return argv, words[2:], nil
}

// parseUint parses a decimal number in [lo, hi].
func parseUint(s string, lo, hi int) (int, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || int(v) < lo || int(v) > hi {
		return 0, fmt.Errorf("%q is not a whole number from %d to %d", s, lo, hi)
	}
	return int(v), nil
}

// parseInt parses a signed decimal number in [lo, hi].
func parseInt(s string, lo, hi int) (int, error) {
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil || int(v) < lo || int(v) > hi {
		return 0, fmt.Errorf("%q is not a whole number from %d to %d", s, lo, hi)
	}
	return int(v), nil
}

// parseSeconds parses keepalived's timer syntax: seconds, possibly with a
// fraction ("3", "0.5"), to microsecond resolution.
func parseSeconds(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a number of seconds", s)
	if s == "" || strings.Trim(s, "0123456789.") != "" || strings.Count(s, ".") > 1 || s == "." {
		return 0, bad
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || f > 1e9 {
		return 0, bad
	}
	return time.Duration(math.Round(f*1e6)) * time.Microsecond, nil
}

// parseBool parses keepalived's <BOOL>: on|off|true|false|yes|no.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true", "yes":
		return true, nil
	case "off", "false", "no":
		return false, nil
	}
	return false, fmt.Errorf("%q is not one of on, off, true, false, yes, no", s)
}

// parseAddr parses an IP address (no zone); IPv4-mapped IPv6 becomes IPv4.
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	return a.Unmap(), nil
}

// parsePrefix parses ADDR or ADDR/LEN, keeping host bits; a bare address is
// a /32 or /128.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := parseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or address/length", s)
	}
	a := p.Addr()
	if a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or address/length", s)
		}
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96), nil
	}
	return p, nil
}

// formatDuration writes a duration for the YAML: whole seconds as "6s" (not
// "1m0s"), anything else in Go syntax.
func formatDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	if d%time.Millisecond == 0 {
		return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
	}
	return d.String()
}
