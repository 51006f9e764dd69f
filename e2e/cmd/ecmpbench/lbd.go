package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lvsd/lb/e2e/ecmplab"
)

// lbdStack is the three directors' lbd, with or without BFD.
type lbdStack struct {
	l   *lab
	bfd bool
	directors
}

func (s *lbdStack) dir(i int) string { return filepath.Join(s.l.dir, fmt.Sprintf("lbd-d%d", i)) }

// start starts (or restarts) director i's lbd.
func (s *lbdStack) start(i int) error {
	dir := s.dir(i)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	conf := filepath.Join(dir, "lbd.yaml")
	yaml := fmt.Sprintf("global:\n  router_id: d%d\n  control_socket: %s\n  state_dir: %s\n  metrics_address: \"\"\n  log_level: info\n",
		i, filepath.Join(dir, "lbd.sock"), dir) + ecmplab.LbdBody(i, ecmplab.LbdOptions{Sloppy: true, BFD: s.bfd})
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		return err
	}
	dm, err := s.l.tp.Directors[i-1].NS.StartDaemon(fmt.Sprintf("lbd on d%d", i), "lbd", "run", "-c", conf)
	if err != nil {
		return err
	}
	s.ds[i-1] = dm
	return nil
}

func startLbdStack(l *lab, bfd bool) (*lbdStack, error) {
	s := &lbdStack{l: l, bfd: bfd, directors: directors{make([]*daemon, ecmplab.Size)}}
	for i := 1; i <= ecmplab.Size; i++ {
		if err := s.start(i); err != nil {
			s.stop()
			return nil, err
		}
	}
	if _, err := l.waitHops(all(), 90*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\n%s", err, s.logs())
	}
	return s, nil
}

// lbctl runs lbctl against director i's lbd.
func (s *lbdStack) lbctl(i int, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := s.l.tp.Directors[i-1].NS.Run(ctx, "lbctl", append([]string{"-s", filepath.Join(s.dir(i), "lbd.sock")}, args...)...)
	if err != nil {
		return fmt.Errorf("lbctl %v on d%d: %w: %s", args, i, err, out)
	}
	return nil
}

// all is every director's id; others every one but i.
func all() []int {
	var ids []int
	for i := 1; i <= ecmplab.Size; i++ {
		ids = append(ids, i)
	}
	return ids
}

func others(i int) []int {
	var ids []int
	for _, id := range all() {
		if id != i {
			ids = append(ids, id)
		}
	}
	return ids
}
