package vrrp

import (
	"math"
	"strconv"
	"strings"
)

// trackFileReadLimit is how much of a tracked file is read (keepalived
// reads 127 bytes).
const trackFileReadLimit = 127

// parseTrackFile reads a tracked file's number as keepalived does (C's
// strtol with base 0): leading white space, a sign, then decimal, 0x hex
// or 0 octal digits up to the first other character; no digits (an empty
// file, text) is 0. ok is false for a number outside what keepalived
// accepts (-2^31..2^31): such a value is ignored and the previous one
// kept.
func parseTrackFile(data []byte) (v int64, ok bool) {
	if len(data) > trackFileReadLimit {
		data = data[:trackFileReadLimit]
	}
	s := strings.TrimLeft(string(data), " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := 10
	switch {
	case len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isDigitIn(s[2], 16):
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base = 8
	}
	n := 0
	for n < len(s) && isDigitIn(s[n], base) {
		n++
	}
	if n == 0 {
		return 0, true
	}
	u, err := strconv.ParseUint(s[:n], base, 64)
	if err != nil || u > math.MaxInt32+1 {
		return 0, false
	}
	v = int64(u)
	if neg {
		v = -v
	}
	return v, true
}

func isDigitIn(c byte, base int) bool {
	switch {
	case c >= '0' && c <= '9':
		return int(c-'0') < base
	case c >= 'a' && c <= 'f':
		return base == 16
	case c >= 'A' && c <= 'F':
		return base == 16
	}
	return false
}
