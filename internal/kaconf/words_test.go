package kaconf

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestScriptWords(t *testing.T) {
	for _, tt := range []struct {
		text     string
		argv     []string
		user     []string
		wantFail bool
	}{
		{`notify_master /etc/n.sh`, []string{"/etc/n.sh"}, nil, false},
		{`notify_master "/etc/n.sh master 1"`, []string{"/etc/n.sh", "master", "1"}, nil, false},
		{`notify_master "/etc/n.sh master" root`, []string{"/etc/n.sh", "master"}, []string{"root"}, false},
		{`notify_master /etc/n.sh root:wheel`, []string{"/etc/n.sh"}, []string{"root:wheel"}, false},
		{`script "/bin/sh -c 'pgrep -x nginx || exit 1'"`, []string{"/bin/sh", "-c", "pgrep -x nginx || exit 1"}, nil, false},
		{`script "/bin/echo a\ b \"c d\" e\tf"`, []string{"/bin/echo", "a b", `"c`, `d"`, "e\tf"}, nil, false},
		{`script '/bin/echo "x y"'`, []string{"/bin/echo", "x y"}, nil, false},
		{`misc_path "/bin/x 'unterminated"`, nil, nil, true},
		{`notify_master`, nil, nil, true},
		{`notify_master ""`, nil, nil, true},
	} {
		argv, user, err := scriptWords(&Node{Text: tt.text})
		if (err != nil) != tt.wantFail {
			t.Errorf("%s: err = %v, want failure %v", tt.text, err, tt.wantFail)
			continue
		}
		if !slices.Equal(argv, tt.argv) || !slices.Equal(user, tt.user) {
			t.Errorf("%s:\n argv %q user %q\nwant %q user %q", tt.text, argv, user, tt.argv, tt.user)
		}
	}
}

func TestSplitQuotedEscapes(t *testing.T) {
	got, err := splitQuoted(`a\x41\101\n\cA\q`, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"aAA\n\x01q"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := splitQuoted(`a\`, true); err == nil {
		t.Error("a trailing backslash was accepted")
	}
}

func TestParseSeconds(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"6", 6 * time.Second, true},
		{"0", 0, true},
		{"0.5", 500 * time.Millisecond, true},
		{"1.000001", time.Second + time.Microsecond, true},
		{"2.71828", 2718280 * time.Microsecond, true},
		{"-1", 0, false},
		{"1s", 0, false},
		{"1e3", 0, false},
		{"1.2.3", 0, false},
		{".", 0, false},
		{"", 0, false},
	} {
		got, err := parseSeconds(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSeconds(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
	}{
		{"192.168.56.90", "192.168.56.90/32"},
		{"192.168.56.90/24", "192.168.56.90/24"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"2001:db8::1/64", "2001:db8::1/64"},
		{"::ffff:10.0.0.1/120", "10.0.0.1/24"},
		{"10.0.0.300", ""},
		{"10.0.0.1/33", ""},
		{"fe80::1%eth0", ""},
	} {
		got, err := parsePrefix(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("parsePrefix(%q) = %v, want an error", tt.in, got)
		case tt.want != "" && (err != nil || got != netip.MustParsePrefix(tt.want)):
			t.Errorf("parsePrefix(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		60 * time.Second:        "60s",
		0:                       "0s",
		500 * time.Millisecond:  "500ms",
		1500 * time.Microsecond: "1.5ms",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	for _, tt := range []struct{ word, want string }{
		{"priorty", "priority"},
		{"lvs_sync_daemon_inteface", "lvs_sync_daemon_interface"},
		{"advert_in", "advert_int"},
		{"xyz", ""},
		{"stat", "state"},
		{"vip", ""}, // 2 edits in 3 letters is no evidence
	} {
		got := suggest(tt.word, slices.Concat(instanceMapped, keysOf(instanceUnsupported)))
		if got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}
