package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCopiedSleep: the copy runs as a process whose comm is the name
// CopiedSleep returned.
func TestCopiedSleep(t *testing.T) {
	dir := t.TempDir()
	path, comm := CopiedSleep(t, dir, "pt")
	if path != filepath.Join(dir, comm) || !strings.HasPrefix(comm, "pt") || len(comm) > 15 {
		t.Fatalf("CopiedSleep = %q, %q", path, comm)
	}
	c := exec.Command(path, "30")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Process.Kill(); _ = c.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c.Process.Pid))
		if err == nil && strings.TrimSpace(string(b)) == comm {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process comm %q (%v), want %q", b, err, comm)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
