package vrrp

import (
	"sync"
	"time"
)

// Subscribe returns a channel receiving every state change from now on, in
// order, and a function to cancel the subscription. Nothing is dropped:
// changes queue up while the reader is slow. The channel is closed on
// cancel or when Run returns.
func (r *Router) Subscribe() (<-chan StateChange, func()) {
	s := newSubscriber()
	r.mu.Lock()
	select {
	case <-r.stop:
		s.end()
	default:
		r.subs[s] = struct{}{}
	}
	r.mu.Unlock()
	return s.out, func() {
		r.mu.Lock()
		delete(r.subs, s)
		r.mu.Unlock()
		s.end()
	}
}

type subscriber struct {
	mu   sync.Mutex
	q    []StateChange
	wake chan struct{}
	done chan struct{}
	once sync.Once
	out  chan StateChange
}

func newSubscriber() *subscriber {
	s := &subscriber{wake: make(chan struct{}, 1), done: make(chan struct{}), out: make(chan StateChange)}
	go s.pump()
	return s
}

func (s *subscriber) push(c StateChange) {
	s.mu.Lock()
	s.q = append(s.q, c)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) end() { s.once.Do(func() { close(s.done) }) }

func (s *subscriber) pump() {
	defer close(s.out)
	ending := false
	for {
		s.mu.Lock()
		q := s.q
		s.q = nil
		s.mu.Unlock()
		for _, c := range q {
			if ending {
				// Run has returned or the subscription was cancelled:
				// deliver what is queued to a reader still there.
				select {
				case s.out <- c:
				case <-time.After(time.Second):
					return
				}
				continue
			}
			select {
			case s.out <- c:
			case <-s.done:
				ending = true
				select {
				case s.out <- c:
				case <-time.After(time.Second):
					return
				}
			}
		}
		if ending {
			return
		}
		select {
		case <-s.wake:
		case <-s.done:
			ending = true
		}
	}
}
