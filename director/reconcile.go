package director

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/lvsd/lb/director/table"
)

// Retry bounds how a failed apply is retried.
type Retry struct {
	// Attempts is the number of rounds (read, diff, write) before giving
	// up; default 4.
	Attempts int
	// Initial is the pause after the first failed round, doubled after each
	// one up to Max; defaults 200ms and 5s.
	Initial, Max time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 4
	}
	if r.Initial <= 0 {
		r.Initial = 200 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 5 * time.Second
	}
	return r
}

// ReconcilerConfig configures a Reconciler.
type ReconcilerConfig struct {
	Kernel Kernel
	Logger *slog.Logger // default slog.Default()
	// Purge removes every service not in the desired table, not only those
	// this daemon manages (config global.purge_unmanaged).
	Purge bool
	Retry Retry
	// Store remembers which services this daemon manages across restarts,
	// so that a service dropped from the configuration while lbd was down is
	// still removed. Nil: only services desired since the start are managed.
	Store ManagedStore
	// BatchMin is the number of ops from which writes go through the
	// kernel's WriteBatch when it has one (BatchWriter); 0 means
	// defaultBatchMin, a negative value never batches.
	BatchMin int
	// Sysctls, if set, is used by ApplySettings.
	Sysctls Sysctls
	// Sleep waits between retries; nil means a timer honouring ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// defaultBatchMin is where batching pays: below it, one request per write
// costs about as much as assembling a batch.
const defaultBatchMin = 16

// FailedOp is a write that failed.
type FailedOp struct {
	Op    table.Op `json:"op"`
	Error string   `json:"error"`
}

// Result reports one apply or resync.
type Result struct {
	// Kind is "apply", "resync" or "clear".
	Kind  string        `json:"kind"`
	Start time.Time     `json:"start"`
	Took  time.Duration `json:"took"`
	// Ops are the writes that succeeded, in order, the first KeptOps of
	// them (OpsOmitted counts the others; OpCount is the total). For a
	// resync they are repairs of changes made behind our back.
	Ops []table.Op `json:"ops,omitempty"`
	// Failed are the writes that failed (each retry round's).
	Failed []FailedOp `json:"failed,omitempty"`
	// Pending are the writes still needed after the last round, when the
	// apply gave up (computed from a fresh read of the kernel).
	Pending []table.Op `json:"pending,omitempty"`
	// Writes counts the write attempts, failed ones included.
	Writes int `json:"writes"`
	// Rounds counts read-diff-write rounds.
	Rounds int `json:"rounds"`
	// Targeted is an apply that read back (and wrote) only the services
	// whose desired spec changed since the last apply, ReadServices of
	// them; the others wait for the next resync's full read.
	Targeted     bool   `json:"targeted,omitempty"`
	ReadServices int    `json:"read_services,omitempty"`
	Error        string `json:"error,omitempty"`
	// OpsOmitted, FailedOmitted and PendingOmitted count the entries of
	// Ops, Failed and Pending left out of the result Last keeps (the first
	// KeptOps of each are kept).
	OpsOmitted     int `json:"ops_omitted,omitempty"`
	FailedOmitted  int `json:"failed_omitted,omitempty"`
	PendingOmitted int `json:"pending_omitted,omitempty"`
}

// KeptOps is how many ops a Result lists (the others are counted in
// OpsOmitted), and how many failed and pending writes the result Last
// keeps: the first apply at 1,000 x 10 writes 11,000 (3.5 MB of ops),
// which the reconciler held until the next apply, only for a status
// display; each write is logged as it is made.
const KeptOps = 100

// addOp records a successful write: listed among the first KeptOps,
// counted after.
func (r *Result) addOp(op table.Op) {
	if len(r.Ops) < KeptOps {
		r.Ops = append(r.Ops, op)
		return
	}
	r.OpsOmitted++
}

// OpCount is how many writes succeeded, listed in Ops or not.
func (r Result) OpCount() int { return len(r.Ops) + r.OpsOmitted }

// kept is r as Last keeps it: at most KeptOps of each list, in new slices
// (the full ones become garbage), and the counts of the others.
func (r Result) kept() Result {
	r.Ops, r.OpsOmitted = keepFirst(r.Ops, r.OpsOmitted)
	r.Failed, r.FailedOmitted = keepFirst(r.Failed, r.FailedOmitted)
	r.Pending, r.PendingOmitted = keepFirst(r.Pending, r.PendingOmitted)
	return r
}

func keepFirst[T any](s []T, omitted int) ([]T, int) {
	if len(s) <= KeptOps {
		return slices.Clip(s), omitted
	}
	return slices.Clone(s[:KeptOps]), omitted + len(s) - KeptOps
}

// Reconciler keeps the kernel's IPVS table equal to the desired one.
// Its methods are safe for concurrent use; applies are serialized.
type Reconciler struct {
	cfg   ReconcilerConfig
	log   *slog.Logger
	retry Retry

	mu       sync.Mutex // serializes applies and guards the fields below
	desired  *table.Table
	settings *Settings
	managed  map[table.ServiceKey]bool
	// synced: the last apply or resync left nothing pending, so the kernel
	// held the desired table (but for hand edits since, which the next
	// resync repairs) and an apply may read back only what it changes.
	synced  bool
	last    Result
	writes  uint64
	repairs uint64
}

// NewReconciler returns a Reconciler; it loads the managed set from
// cfg.Store. It writes nothing: the first Apply adopts a matching table
// with zero writes.
func NewReconciler(cfg ReconcilerConfig) (*Reconciler, error) {
	if cfg.Kernel == nil {
		return nil, errors.New("director: ReconcilerConfig.Kernel is nil")
	}
	if cfg.BatchMin == 0 {
		cfg.BatchMin = defaultBatchMin
	}
	r := &Reconciler{cfg: cfg, log: cfg.Logger, retry: cfg.Retry.withDefaults(), managed: map[table.ServiceKey]bool{}}
	if r.log == nil {
		r.log = slog.Default()
	}
	if cfg.Store != nil {
		keys, err := cfg.Store.Load()
		if err != nil {
			return nil, fmt.Errorf("load managed IPVS services: %w", err)
		}
		for _, k := range keys {
			r.managed[k.Normalize()] = true
		}
	}
	return r, nil
}

func (r *Reconciler) now() time.Time {
	if r.cfg.Now != nil {
		return r.cfg.Now()
	}
	return time.Now()
}

func (r *Reconciler) sleep(ctx context.Context, d time.Duration) error {
	if r.cfg.Sleep != nil {
		return r.cfg.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Apply makes the kernel's table equal to desired (services outside it are
// removed only if managed or with Purge), and remembers desired for
// Resync. It reads the kernel's table back, writes only what differs and,
// when a write fails, pauses, re-reads and retries; if it gives up, the
// Result lists what is still pending according to a fresh read.
//
// The first apply, and any after one that gave up, reads the whole table.
// Later ones are targeted: they read back from the kernel only the
// services whose desired spec differs from the last applied one (added,
// changed or removed), and diff and write those; differences elsewhere
// (hand edits, unmanaged services with Purge) are left to Resync, which
// always reads the whole table.
func (r *Reconciler) Apply(ctx context.Context, desired table.Table) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.apply(ctx, desired, false)
}

// apply is Apply of next. Unless owned, it copies next (next stays the
// caller's); owned, next is never modified by anyone after, and the
// reconciler keeps it (or shares its services) instead of a copy. r.mu is
// held.
func (r *Reconciler) apply(ctx context.Context, next table.Table, owned bool) (Result, error) {
	var scope []table.ServiceKey
	var d table.Table
	switch {
	case r.desired != nil && r.synced:
		scope, d = changedServices(*r.desired, next, owned)
	case owned:
		d = next
	default:
		d = next.Clone()
	}
	r.desired = &d
	return r.reconcile(ctx, "apply", d, scope)
}

// ApplyLatest is Apply of the table latest returns, called once this
// reconciler's previous apply is done: applies are serialized here, and
// each applies the newest desired table, so a table built earlier never
// overwrites one built later (the Manager's way to apply). The tables
// latest returns must never be modified (the Manager builds a new one for
// every change): the reconciler keeps them as they are, so the desired
// table is held once, not twice (1,000 x 10: 1.5 MB).
func (r *Reconciler) ApplyLatest(ctx context.Context, latest func() table.Table) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.apply(ctx, latest(), true)
}

// Resync re-reads the kernel and repairs any difference from the last
// applied table (hand edits such as "ipvsadm -d"), logging each repair, and
// re-applies the last settings. Before the first Apply it does nothing.
func (r *Reconciler) Resync(ctx context.Context) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	if r.settings != nil {
		if _, err := r.settingsDiff(*r.settings, true, false); err != nil {
			errs = append(errs, err)
		}
	}
	if r.desired == nil {
		return Result{Kind: "resync", Start: r.now()}, errors.Join(errs...)
	}
	res, err := r.reconcile(ctx, "resync", *r.desired, nil)
	return res, errors.Join(append(errs, err)...)
}

// Clear removes the services this daemon manages (all services with
// Purge): lbd's flush_on_stop. It forgets the desired table.
func (r *Reconciler) Clear(ctx context.Context) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.desired = nil
	return r.reconcile(ctx, "clear", table.Table{}, nil)
}

// Run resyncs every interval and whenever trigger fires, until ctx ends.
// Errors are logged (and kept for Last); the loop goes on.
func (r *Reconciler) Run(ctx context.Context, interval time.Duration, trigger <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-trigger:
		}
		if _, err := r.Resync(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("IPVS resync failed", "err", err)
		}
	}
}

// Last returns the result of the last apply, resync or clear.
func (r *Reconciler) Last() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Counters returns the total write attempts and repairs (resync ops) so far.
func (r *Reconciler) Counters() (writes, repairs uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writes, r.repairs
}

// Desired returns a copy of the last applied desired table.
func (r *Reconciler) Desired() (table.Table, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.desired == nil {
		return table.Table{}, false
	}
	return r.desired.Clone(), true
}

// Drift returns the writes that would bring actual to want under this
// reconciler's rules (purge, managed services): none when in sync.
func (r *Reconciler) Drift(want, actual table.Table) []table.Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return table.Diff(want, actual, r.diffOptions())
}

func (r *Reconciler) diffOptions() table.DiffOptions {
	return table.DiffOptions{Purge: r.cfg.Purge, Managed: func(k table.ServiceKey) bool { return r.managed[k] }, KernelOrder: true}
}

// Managed returns the keys of the services this daemon manages, sorted.
func (r *Reconciler) Managed() []table.ServiceKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.managedKeys()
}

func (r *Reconciler) managedKeys() []table.ServiceKey {
	keys := make([]table.ServiceKey, 0, len(r.managed))
	for k := range r.managed {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, table.ServiceKey.Compare)
	return keys
}

// reconcile reads the kernel's table (only the services of scope, when
// not nil), writes what differs from desired and retries; see Apply.
func (r *Reconciler) reconcile(ctx context.Context, kind string, desired table.Table, scope []table.ServiceKey) (res Result, err error) {
	res = Result{Kind: kind, Start: r.now()}
	defer func() {
		res.Took = r.now().Sub(res.Start)
		if err != nil {
			res.Error = err.Error()
			r.synced = false
		} else if scope == nil {
			r.synced = true
		}
		r.writes += uint64(res.Writes)
		if kind == "resync" {
			r.repairs += uint64(res.OpCount())
		}
		r.last = res.kept()
	}()

	v := newView(r.cfg.Kernel, desired, scope)
	res.Targeted, res.ReadServices = scope != nil, len(scope)
	opts := r.diffOptions()
	pause := r.retry.Initial
	var lastErr error
	for round := 1; ; round++ {
		res.Rounds = round
		actual, rerr := v.read()
		if rerr != nil {
			lastErr = fmt.Errorf("read IPVS table: %w", rerr)
		} else {
			ops := table.Diff(v.desired, actual, opts)
			if len(ops) == 0 {
				r.setManaged(v.desired, nil, scope)
				return res, nil
			}
			if round > 1 {
				r.log.Info("retrying IPVS writes", "kind", kind, "round", round, "pending", len(ops))
			}
			failed := r.applyOps(ctx, kind, ops, &res)
			if len(failed) == 0 {
				r.setManaged(v.desired, nil, scope)
				r.logSummary(kind, res)
				return res, nil
			}
			lastErr = failed[0]
			if len(failed) > 1 {
				lastErr = fmt.Errorf("%w (and %d more failed writes)", failed[0], len(failed)-1)
			}
		}
		if ctx.Err() != nil || round >= r.retry.Attempts {
			break
		}
		r.log.Warn("IPVS apply incomplete, retrying", "kind", kind, "round", round, "in", pause, "err", lastErr)
		if err := r.sleep(ctx, pause); err != nil {
			break
		}
		pause = min(2*pause, r.retry.Max)
	}

	// Give up, but know where we stand: read the kernel once more.
	if actual, rerr := v.read(); rerr == nil {
		res.Pending = table.Diff(v.desired, actual, opts)
		r.setManaged(v.desired, actual.Keys(), scope)
	} else {
		lastErr = errors.Join(lastErr, fmt.Errorf("re-read IPVS table: %w", rerr))
	}
	if ctx.Err() != nil {
		lastErr = errors.Join(ctx.Err(), lastErr)
	}
	r.logSummary(kind, res)
	return res, fmt.Errorf("IPVS %s gave up after %d rounds, %d writes pending: %w", kind, res.Rounds, len(res.Pending), lastErr)
}

// view is the part of the kernel's table one reconcile reads and writes:
// all of it, or the services of a scope.
type view struct {
	k       Kernel
	scope   []table.ServiceKey // nil: the whole table
	in      map[table.ServiceKey]bool
	desired table.Table // the desired table, restricted to the scope
}

func newView(k Kernel, desired table.Table, scope []table.ServiceKey) view {
	v := view{k: k, scope: scope, desired: desired}
	if scope == nil {
		return v
	}
	v.in = make(map[table.ServiceKey]bool, len(scope))
	for _, key := range scope {
		v.in[key] = true
	}
	v.desired = table.Table{}
	for _, s := range desired.Services {
		if v.in[s.Key()] {
			v.desired.Services = append(v.desired.Services, s)
		}
	}
	return v
}

// read reads the view's part of the kernel's table: for a scope, each
// service by its key and, if the kernel has it, its destinations.
func (v view) read() (table.Table, error) {
	if v.scope == nil {
		return table.Read(v.k)
	}
	var t table.Table
	for _, key := range v.scope {
		s, found, err := v.k.Service(key)
		if err != nil {
			return table.Table{}, err
		}
		if !found {
			continue
		}
		if s.Destinations, err = v.k.Destinations(s); err != nil {
			return table.Table{}, fmt.Errorf("list destinations of %s: %w", key, err)
		}
		t.Services = append(t.Services, s)
	}
	return t, nil
}

// changedServices returns the keys, sorted, of the services whose desired
// spec differs between prev and next, and of those only one of them has:
// what a targeted apply reads back (not nil, even when empty); and a copy
// of next (prev is the reconciler's own copy, never modified: the
// services next has unchanged are shared with it, the others cloned), or
// next itself when owned (see apply).
func changedServices(prev, next table.Table, owned bool) ([]table.ServiceKey, table.Table) {
	if keys, cp, ok := changedInPlace(prev, next, owned); ok {
		return keys, cp
	}
	old := make(map[table.ServiceKey]table.Service, len(prev.Services))
	for _, s := range prev.Services {
		old[s.Key()] = s
	}
	set := map[table.ServiceKey]bool{}
	seen := make(map[table.ServiceKey]bool, len(next.Services))
	for _, s := range next.Services {
		k := s.Key()
		seen[k] = true
		if o, ok := old[k]; !ok || !sameSpec(o, s) {
			set[k] = true
		}
	}
	for k := range old {
		if !seen[k] {
			set[k] = true
		}
	}
	keys := make([]table.ServiceKey, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, table.ServiceKey.Compare)
	if owned {
		return keys, next
	}
	return keys, next.Clone()
}

// changedInPlace is changedServices when prev and next list the same
// keys in the same order (the Manager builds every table in the
// configuration's order): a walk side by side, no map. ok is false
// otherwise.
func changedInPlace(prev, next table.Table, owned bool) (keys []table.ServiceKey, cp table.Table, ok bool) {
	if len(prev.Services) != len(next.Services) {
		return nil, table.Table{}, false
	}
	keys = []table.ServiceKey{}
	if owned {
		cp = next // kept as it is: the older table's services become garbage
	} else {
		cp.Services = make([]table.Service, len(next.Services))
	}
	for i := range next.Services {
		p, n := &prev.Services[i], &next.Services[i]
		if p.ServiceKey != n.ServiceKey {
			return nil, table.Table{}, false
		}
		same := sameSpec(*p, *n)
		switch {
		case owned:
		case same:
			cp.Services[i] = *p
		default:
			cp.Services[i] = n.Clone()
		}
		if !same {
			keys = append(keys, n.Key())
		}
	}
	slices.SortFunc(keys, table.ServiceKey.Compare)
	return slices.Compact(keys), cp, true // a key listed twice (a configuration's twins) is read once
}

// sameSpec reports whether a and b are exactly the same desired service,
// destinations in the same order.
func sameSpec(a, b table.Service) bool {
	return a.ServiceKey == b.ServiceKey && a.Scheduler == b.Scheduler && a.Flags == b.Flags &&
		a.Timeout == b.Timeout && a.Netmask == b.Netmask && a.Stats == b.Stats &&
		slices.Equal(a.Destinations, b.Destinations)
}

// applyOps writes ops in order; a failed service creation skips that
// service's destination writes. It returns the errors.
func (r *Reconciler) applyOps(ctx context.Context, kind string, ops []table.Op, res *Result) []error {
	if bw, ok := r.cfg.Kernel.(BatchWriter); ok && r.cfg.BatchMin >= 0 && len(ops) >= max(r.cfg.BatchMin, 1) {
		return r.applyBatch(ctx, kind, bw, ops, res)
	}
	var errs []error
	skip := map[table.ServiceKey]bool{}
	for _, op := range ops {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		key := op.Service.Key()
		if !op.IsServiceOp() && skip[key] {
			continue
		}
		res.Writes++
		if err := op.Apply(r.cfg.Kernel); err != nil {
			res.Failed = append(res.Failed, FailedOp{Op: op, Error: err.Error()})
			errs = append(errs, err)
			r.log.Warn("IPVS write failed", "kind", kind, "op", op.Kind.String(), "rule", op.String(), "err", err)
			if op.Kind == table.OpCreateService {
				skip[key] = true
			}
			continue
		}
		res.addOp(op)
		r.logOp(ctx, kind, op, res.OpCount(), len(ops))
	}
	return errs
}

// applyBatch writes ops in one batch (see BatchWriter).
func (r *Reconciler) applyBatch(ctx context.Context, kind string, bw BatchWriter, ops []table.Op, res *Result) []error {
	if err := ctx.Err(); err != nil {
		return []error{err}
	}
	results := bw.WriteBatch(ops)
	var errs []error
	res.Writes += len(ops)
	for i, op := range ops {
		var err error
		if i < len(results) {
			err = results[i]
		} else {
			err = errors.New("no result from batch write")
		}
		if err != nil {
			res.Failed = append(res.Failed, FailedOp{Op: op, Error: err.Error()})
			errs = append(errs, err)
			if len(errs) <= logEachLimit {
				r.log.Warn("IPVS write failed", "kind", kind, "op", op.Kind.String(), "rule", op.String(), "err", err)
			}
			continue
		}
		res.addOp(op)
		r.logOp(ctx, kind, op, res.OpCount(), len(ops))
	}
	return errs
}

// logEachLimit is how many ops of one apply are logged one by one at info
// (warn for repairs); the rest go to debug, announced by one line.
const logEachLimit = 50

func (r *Reconciler) logOp(ctx context.Context, kind string, op table.Op, n, total int) {
	level, msg := slog.LevelInfo, "IPVS changed"
	if kind == "resync" {
		level, msg = slog.LevelWarn, "repaired IPVS drift"
	}
	if n > logEachLimit {
		level = slog.LevelDebug
	}
	if n == logEachLimit+1 {
		r.log.Log(ctx, slog.LevelInfo, "more IPVS writes logged at debug level", "kind", kind, "more", total-logEachLimit)
	}
	if !r.log.Enabled(ctx, level) {
		return
	}
	r.log.Log(ctx, level, msg, "kind", kind, "op", op.Kind.String(), "rule", op.String())
}

func (r *Reconciler) logSummary(kind string, res Result) {
	if res.Writes == 0 && len(res.Pending) == 0 {
		return
	}
	r.log.Info("IPVS "+kind+" done", "writes", res.Writes, "ok", res.OpCount(), "failed", len(res.Failed),
		"pending", len(res.Pending), "rounds", res.Rounds)
}

// setManaged records the services we manage: those desired, plus those
// still present that we managed but could not remove. After a targeted
// reconcile (scope not nil) only the services of scope can have changed
// (desired is then restricted to them): the others are desired as
// before, and managed.
func (r *Reconciler) setManaged(desired table.Table, stillPresent, scope []table.ServiceKey) {
	if scope != nil {
		r.setManagedScope(desired, stillPresent, scope)
		return
	}
	next := make(map[table.ServiceKey]bool, len(desired.Services))
	for _, k := range desired.Keys() {
		next[k] = true
	}
	for _, k := range stillPresent {
		if r.managed[k] {
			next[k] = true
		}
	}
	changed := len(next) != len(r.managed)
	if !changed {
		for k := range next {
			if !r.managed[k] {
				changed = true
				break
			}
		}
	}
	r.managed = next
	if changed && r.cfg.Store != nil {
		if err := r.cfg.Store.Save(r.managedKeys()); err != nil {
			r.log.Error("saving managed IPVS services failed", "err", err)
		}
	}
}

// setManagedScope is setManaged for a targeted reconcile: each key of
// scope is managed if desired, or still present and managed before.
func (r *Reconciler) setManagedScope(desired table.Table, stillPresent, scope []table.ServiceKey) {
	want := make(map[table.ServiceKey]bool, len(scope))
	for _, k := range scope {
		want[k] = slices.Contains(stillPresent, k) && r.managed[k]
	}
	for _, s := range desired.Services {
		if _, ok := want[s.Key()]; ok {
			want[s.Key()] = true
		}
	}
	changed := false
	for k, m := range want {
		if r.managed[k] != m {
			changed = true
			if m {
				r.managed[k] = true
			} else {
				delete(r.managed, k)
			}
		}
	}
	if changed && r.cfg.Store != nil {
		if err := r.cfg.Store.Save(r.managedKeys()); err != nil {
			r.log.Error("saving managed IPVS services failed", "err", err)
		}
	}
}

// ApplySettings sets the IPVS timeouts and sysctls of s where they differ
// from the kernel's (zero writes when they match), and remembers s for
// Resync. It returns what it changed.
func (r *Reconciler) ApplySettings(s Settings) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.settings = &s
	return r.settingsDiff(s, false, false)
}

// settingsDiff sets the settings of s that differ from the kernel's
// (none when dry: only what would change is returned) and returns what it
// changed.
func (r *Reconciler) settingsDiff(s Settings, repair, dry bool) ([]string, error) {
	var changed []string
	var errs []error
	t := s.Timeouts
	if t != (table.Timeouts{}) {
		cur, err := r.cfg.Kernel.Timeouts()
		if err != nil {
			errs = append(errs, err)
		} else if (t.TCP != 0 && t.TCP != cur.TCP) || (t.TCPFin != 0 && t.TCPFin != cur.TCPFin) || (t.UDP != 0 && t.UDP != cur.UDP) {
			if !dry {
				r.writes++
			}
			if err := r.setTimeouts(t, dry); err != nil {
				errs = append(errs, err)
			} else {
				changed = append(changed, fmt.Sprintf("timeouts (tcp tcpfin udp) %d %d %d -> %d %d %d",
					cur.TCP, cur.TCPFin, cur.UDP, or(t.TCP, cur.TCP), or(t.TCPFin, cur.TCPFin), or(t.UDP, cur.UDP)))
			}
		}
	}
	if len(s.Sysctls) > 0 && r.cfg.Sysctls == nil {
		errs = append(errs, errors.New("sysctls configured but no sysctl access"))
	} else {
		for _, sc := range s.Sysctls {
			cur, err := r.cfg.Sysctls.Get(sc.Name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if cur == sc.Value {
				continue
			}
			if err := r.setSysctl(sc, dry); err != nil {
				errs = append(errs, err)
				continue
			}
			changed = append(changed, fmt.Sprintf("%s %s -> %s", sc.Name, cur, sc.Value))
		}
	}
	for _, c := range changed {
		if dry {
			break
		}
		if repair {
			r.log.Warn("repaired IPVS setting", "change", c)
		} else {
			r.log.Info("IPVS setting changed", "change", c)
		}
	}
	return changed, errors.Join(errs...)
}

func (r *Reconciler) setTimeouts(t table.Timeouts, dry bool) error {
	if dry {
		return nil
	}
	return r.cfg.Kernel.SetTimeouts(t)
}

func (r *Reconciler) setSysctl(sc SysctlSetting, dry bool) error {
	if dry {
		return nil
	}
	return r.cfg.Sysctls.Set(sc.Name, sc.Value)
}

func or(a, b uint32) uint32 {
	if a != 0 {
		return a
	}
	return b
}
