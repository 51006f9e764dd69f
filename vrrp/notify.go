package vrrp

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/lvsd/lb/internal/runas"
)

// notifier starts notify commands in order without holding the loop; STOP
// commands are waited for (a second at most) when it closes.
type notifier struct {
	run  Runner
	log  *slog.Logger
	mu   sync.Mutex
	q    []noteJob
	wake chan struct{}
	quit chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

type noteJob struct {
	argv []string
	who  runas.Who
	wait bool
}

func newNotifier(run Runner, log *slog.Logger) *notifier {
	n := &notifier{run: run, log: log, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go n.loop()
	return n
}

func (n *notifier) add(argv []string, who runas.Who, wait bool) {
	n.mu.Lock()
	n.q = append(n.q, noteJob{argv, who, wait})
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *notifier) loop() {
	defer close(n.done)
	for {
		n.mu.Lock()
		q := n.q
		n.q = nil
		n.mu.Unlock()
		for _, j := range q {
			if j.wait {
				n.wg.Add(1)
				go func() {
					defer n.wg.Done()
					if err := n.run.Run(context.Background(), j.argv, j.who, time.Second); err != nil {
						n.log.Warn("vrrp: notify command failed", "argv", j.argv, "err", err)
					}
				}()
				continue
			}
			if err := n.run.Start(j.argv, j.who); err != nil {
				n.log.Warn("vrrp: starting notify command", "argv", j.argv, "err", err)
			}
		}
		select {
		case <-n.wake:
		case <-n.quit:
			n.mu.Lock()
			empty := len(n.q) == 0
			n.mu.Unlock()
			if empty {
				return
			}
		}
	}
}

// close runs what is queued, waits for the STOP commands and stops.
func (n *notifier) close() {
	n.once.Do(func() { close(n.quit) })
	<-n.done
	n.wg.Wait()
}
