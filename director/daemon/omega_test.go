package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lvsd/lb/director/kernel/fake"
)

// TestOmegaOnStop runs lbd (on a fake kernel) and stops it: with omega,
// the notify_down of each real server up and the service's quorum_down
// run (real processes, which leave files); a server already down gets no
// notify_down; without omega nothing runs on stop.
func TestOmegaOnStop(t *testing.T) {
	for _, tt := range []struct {
		name  string
		omega bool
		want  []string
	}{
		{"omega", true, []string{"down-201", "quorum-down"}},
		{"no omega", false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			touch, err := lookTouch()
			if err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "lbd.yaml")
			y := fmt.Sprintf(`global: {state_dir: %[1]s, control_socket: %[1]s/lbd.sock, metrics_address: ""}
virtual_servers:
  - address: 192.0.2.10
    port: 80
    omega: %[3]t
    quorum_down: [%[2]s, %[1]s/quorum-down]
    real_servers:
      - address: 198.51.100.201
        notify_down: [%[2]s, %[1]s/down-201]
      - address: 198.51.100.202
        notify_down: [%[2]s, %[1]s/down-202]
        checks:
          - {type: tcp, connect_ip: 127.0.0.1, connect_port: 1, alpha: true, delay_loop: 1h}
`, dir, touch, tt.omega)
			if err := os.WriteFile(cfg, []byte(y), 0o644); err != nil {
				t.Fatal(err)
			}
			logs := &syncBuf{}
			d, err := New(cfg, Options{Kernel: fake.New(), LogOutput: logs, Notify: func(string) {}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			waitFor(t, "control socket", func() bool { _, err := os.Stat(filepath.Join(dir, "lbd.sock")); return err == nil })
			// The second server starts down (alpha): its notify_down runs
			// then, not on stop.
			down202 := filepath.Join(dir, "down-202")
			waitFor(t, "notify_down of the server down at start", func() bool { _, err := os.Stat(down202); return err == nil })
			if err := os.Remove(down202); err != nil {
				t.Fatal(err)
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("daemon did not stop")
			}
			files := func() []string {
				var out []string
				for _, f := range []string{"down-201", "down-202", "quorum-down"} {
					if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
						out = append(out, f)
					}
				}
				return out
			}
			if tt.want != nil {
				waitFor(t, "omega notifiers", func() bool { return len(files()) >= len(tt.want) })
			} else {
				time.Sleep(300 * time.Millisecond) // the commands would have started by now
			}
			if got := files(); !slices.Equal(got, tt.want) {
				t.Errorf("commands run on stop left %v, want %v\nlogs:\n%s", got, tt.want, logs.String())
			}
		})
	}
}

func lookTouch() (string, error) {
	for _, p := range []string{"/usr/bin/touch", "/bin/touch"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no touch command")
}
