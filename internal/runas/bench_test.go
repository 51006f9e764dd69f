package runas

import (
	"context"
	"testing"
)

// BenchmarkCommand is what runas adds before each start of a command: the
// user lookup and, with security on and root running it, the path check
// (/bin/true: three components, plus its symbolic-link target on merged-/usr systems).
func BenchmarkCommand(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    Policy
	}{
		{"default", Policy{}},
		{"script_user root, secure", Policy{Default: Who{User: "root"}, Secure: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := NewRunner(bc.p)
			for b.Loop() {
				if _, err := r.Command(context.Background(), []string{"/bin/true"}, Who{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
