package nginxlab

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Result is one GET of the VIP from the client.
type Result struct {
	Sent, Done time.Time
	Director   string // the X-Director header: the proxy that answered
	Backend    string // the body: web1 or web2
	Err        string // "" when answered 200
}

// OK reports whether the request was answered 200.
func (r Result) OK() bool { return r.Err == "" }

// Prober sends a GET to the VIP from the client every interval, each on a
// new connection and in its own goroutine (a request that hangs does not
// delay the next), and keeps every result.
type Prober struct {
	client *http.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	results []Result
}

// StartProber starts probing the VIP every interval; each request gives
// up after timeout.
func (l *Lab) StartProber(interval, timeout time.Duration) *Prober {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Prober{cancel: cancel, client: &http.Client{
		Transport: &http.Transport{DialContext: l.Client.DialContext, DisableKeepAlives: true},
		Timeout:   timeout,
	}}
	url := fmt.Sprintf("http://%s/", VIP)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.wg.Add(1)
				go func() { defer p.wg.Done(); p.get(ctx, url) }()
			}
		}
	}()
	return p
}

func (p *Prober) get(ctx context.Context, url string) {
	r := Result{Sent: time.Now()}
	defer func() {
		r.Done = time.Now()
		if ctx.Err() != nil && r.Err != "" {
			return // cut by Stop: not a result
		}
		p.mu.Lock()
		p.results = append(p.results, r)
		p.mu.Unlock()
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		r.Err = err.Error()
		return
	}
	resp, err := p.client.Do(req)
	if err != nil {
		r.Err = err.Error()
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	switch {
	case err != nil:
		r.Err = err.Error()
	case resp.StatusCode != http.StatusOK:
		r.Err = resp.Status
	}
	r.Director, r.Backend = resp.Header.Get("X-Director"), strings.TrimSpace(string(body))
}

// Stop stops probing and waits for the requests in flight.
func (p *Prober) Stop() {
	p.cancel()
	p.wg.Wait()
}

// Results are the results so far, by send time.
func (p *Prober) Results() []Result {
	p.mu.Lock()
	rs := slices.Clone(p.results)
	p.mu.Unlock()
	slices.SortStableFunc(rs, func(a, b Result) int { return a.Sent.Compare(b.Sent) })
	return rs
}

// FirstAnswer is, of the requests sent at or after from, the one answered
// 200 first (by answer time); director, when not "", must be the one that
// answered.
func FirstAnswer(rs []Result, from time.Time, director string) (Result, bool) {
	var best Result
	found := false
	for _, r := range rs {
		if !r.OK() || r.Sent.Before(from) || (director != "" && r.Director != director) {
			continue
		}
		if !found || r.Done.Before(best.Done) {
			best, found = r, true
		}
	}
	return best, found
}

// Failed is the label Sequence gives a request that was not answered 200.
const Failed = "-"

// Run is a stretch of consecutive requests (by send time) with the same
// outcome: the proxy that answered, or Failed.
type Run struct {
	Who         string
	N           int
	First, Last time.Time // send times
}

// Sequence is the requests sent in [from, to) (to zero: no end) as runs of
// the same outcome, in send order.
func Sequence(rs []Result, from, to time.Time) []Run {
	var out []Run
	for _, r := range rs {
		if r.Sent.Before(from) || (!to.IsZero() && !r.Sent.Before(to)) {
			continue
		}
		who := r.Director
		if !r.OK() {
			who = Failed
		}
		if n := len(out); n > 0 && out[n-1].Who == who {
			out[n-1].N++
			out[n-1].Last = r.Sent
			continue
		}
		out = append(out, Run{Who: who, N: 1, First: r.Sent, Last: r.Sent})
	}
	return out
}

// Whos is the outcomes of runs, in order ("d1", "-", "d2").
func Whos(runs []Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.Who
	}
	return out
}
