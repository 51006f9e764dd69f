package config

import (
	"os"
	"slices"
	"testing"
	"time"
)

func TestNotifyErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"relative fifo", "notify:\n  fifo: notify.fifo\n", []string{`f:2: notify.fifo: must be an absolute path, got "notify.fifo"`}},
		{"same fifo twice", "notify:\n  fifo: /run/n\n  vrrp_fifo: /run/n\n",
			[]string{`f:3: notify.vrrp_fifo: the same FIFO as notify.fifo (each line would be written twice)`}},
		{"script without fifo", "notify:\n  fifo_script: [/bin/reader]\n",
			[]string{`f:2: notify.fifo_script: needs notify.fifo (the script is given the FIFO's path)`}},
		{"mail without server", "notify:\n  email:\n    to: [ops@example.com]\n",
			[]string{`f:2: notify.email.smtp_server: required with notify.email.to (keepalived sends no mail without it)`}},
		{"bad server", "notify:\n  email:\n    to: [a@b]\n    smtp_server: \"10.0.0.1 99999\"\n",
			[]string{`f:4: notify.email.smtp_server: invalid SMTP server "10.0.0.1 99999" (want "host", "host port" or "host:port", port 1-65535)`}},
		{"header injection", "notify:\n  email:\n    to: [\"a@b\\r\\nBcc: x@y\"]\n    smtp_server: mail\n",
			[]string{`f:3: notify.email.to[0]: invalid e-mail address "a@b\r\nBcc: x@y"`}},
		{"zero timeout", "notify:\n  email:\n    connect_timeout: 0s\n",
			[]string{`f:3: notify.email.connect_timeout: must be positive, got 0s`}},
		{"unknown key", "notify:\n  fifo_path: /run/n\n", []string{`f:2: notify: unknown field "fifo_path"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDirector("f", []byte(tc.yaml))
			got := errLines(t, err)
			if len(got) == 0 || !slices.Equal(got, tc.want) {
				diffLines(t, got, tc.want)
			}
		})
	}
}

func TestNotifyDefaults(t *testing.T) {
	d, err := ParseDirector("f", []byte("notify:\n  email:\n    to: [ops@example.com]\n    smtp_server: \"192.0.2.25\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	e := d.Notify.Email
	if e.From != "lbd@"+host || e.HELOName != host || e.ConnectTimeout != 30*time.Second || e.Alert {
		t.Errorf("defaults %+v", e)
	}
	for in, want := range map[string]string{"192.0.2.25": "192.0.2.25:25", "mail.example.com 2525": "mail.example.com:2525",
		"mail:587": "mail:587", "2001:db8::1": "[2001:db8::1]:25", "2001:db8::1 26": "[2001:db8::1]:26", "[2001:db8::1]:27": "[2001:db8::1]:27"} {
		if got, err := SMTPAddress(in); got != want || err != nil {
			t.Errorf("SMTPAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
