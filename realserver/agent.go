package realserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Agent keeps a Spec in place on the node through a System.
type Agent struct {
	sys System
	log *slog.Logger

	mu       sync.Mutex
	spec     Spec  // normalized
	st       State // as last persisted
	loaded   bool  // st has been read from the state file
	restored bool  // Restore ran: the watcher must not put things back
	// devices are those the specs in force in this process put VIPs on:
	// the only ones whose records the state file may hold.
	devices []string
}

// New checks the spec and returns an agent; nothing is read or changed yet.
func New(spec Spec, sys System, log *slog.Logger) (*Agent, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("invalid spec: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{sys: sys, log: log, spec: spec.normalized()}
	a.addDevices(a.spec)
	return a, nil
}

// addDevices adds the devices of spec (normalized) to those the state file
// may name.
func (a *Agent) addDevices(spec Spec) {
	for _, d := range []string{spec.Interface, spec.Interface6} {
		if !slices.Contains(a.devices, d) {
			a.devices = append(a.devices, d)
		}
	}
}

// Spec returns the spec in force, defaults filled in.
func (a *Agent) Spec() Spec {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.spec
}

// Apply puts the spec in place once: it refuses a VIP that is one of the
// node's own primary addresses, records originals in the state file, then
// makes the changes. It is idempotent: on a node already in shape it makes no
// change.
func (a *Agent) Apply(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.restored = false
	_, err := a.syncLocked(ctx, "apply", true)
	return err
}

// Reload replaces the spec and applies it; what the old spec managed and the
// new one does not is undone. If the new spec is refused (a VIP is the node's
// own address) the old one stays in force. The state file cannot change on
// reload.
func (a *Agent) Reload(ctx context.Context, spec Spec) error {
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("invalid spec: %w", err)
	}
	spec = spec.normalized()
	a.mu.Lock()
	defer a.mu.Unlock()
	if spec.StateFile != a.spec.StateFile {
		return fmt.Errorf("state file changed from %s to %s: restart to use it", a.spec.StateFile, spec.StateFile)
	}
	all, err := a.sys.AllAddrs()
	if err != nil {
		return fmt.Errorf("list node addresses: %w", err)
	}
	if refused, _ := conflicts(spec, all); len(refused) > 0 {
		return fmt.Errorf("new config refused, old one kept: %w", errors.Join(refused...))
	}
	a.spec = spec
	a.addDevices(spec)
	a.restored = false
	_, err = a.syncLocked(ctx, "reload", true)
	return err
}

// Resync reads everything back and repairs any drift, logging each repair.
// It returns the number of changes made.
func (a *Agent) Resync(ctx context.Context) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.restored {
		return 0, nil
	}
	return a.syncLocked(ctx, "repair", false)
}

// Restore puts back everything the state file records (see [Restore]) and
// stops later resyncs from re-applying.
func (a *Agent) Restore(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.restored = true
	err := restore(ctx, a.sys, a.spec.StateFile, a.devices, a.log)
	if st, lerr := LoadState(a.spec.StateFile); lerr == nil {
		a.st, a.loaded = st, true
	} else {
		a.loaded = false
	}
	return err
}

// Status compares the spec, the kernel and the state file.
func (a *Agent) Status(ctx context.Context) (Status, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, err := LoadState(a.spec.StateFile)
	if err != nil {
		return Status{}, err
	}
	d := a.spec.desired()
	obs, err := observe(a.sys, linkNames(d, st), sysctlKeys(d, st))
	if err != nil {
		return Status{}, err
	}
	s := Status{Mode: a.spec.Mode, Items: report(d, obs, st)}
	all, err := a.sys.AllAddrs()
	if err != nil {
		return s, fmt.Errorf("list node addresses: %w", err)
	}
	refused, warns := conflicts(a.spec, all)
	for _, r := range refused {
		s.Warnings = append(s.Warnings, r.Error())
	}
	s.Warnings = append(s.Warnings, warns...)
	return s, nil
}

// syncLocked runs both planning phases and executes them. verb is "apply",
// "reload" or "repair" (the log message).
func (a *Agent) syncLocked(ctx context.Context, verb string, check bool) (int, error) {
	if !a.loaded {
		st, err := loadChecked(a.sys, a.spec.StateFile, a.devices)
		if err != nil {
			return 0, err
		}
		a.st, a.loaded = st, true
	}
	if check {
		all, err := a.sys.AllAddrs()
		if err != nil {
			return 0, fmt.Errorf("list node addresses: %w", err)
		}
		refused, warns := conflicts(a.spec, all)
		for _, w := range warns {
			a.log.Warn(w)
		}
		if len(refused) > 0 {
			return 0, errors.Join(refused...)
		}
	}
	d := a.spec.desired()

	// Phase 1: the devices.
	obs, err := observe(a.sys, linkNames(d, a.st), nil)
	if err != nil {
		return 0, err
	}
	acts, next, err := planLinks(d, obs, a.st)
	if err != nil {
		return 0, err
	}
	if err := a.persist(next); err != nil {
		return 0, err
	}
	n, _, err := a.execute(ctx, verb, acts)
	if err != nil {
		return n, err
	}

	// Phase 2: sysctls and addresses.
	obs, err = observe(a.sys, linkNames(d, a.st), sysctlKeys(d, a.st))
	if err != nil {
		return n, err
	}
	acts, next, err = plan(d, obs, a.st)
	if err != nil {
		return n, err
	}
	old := a.st
	// Before acting, the file holds the new records and still the old ones
	// being undone, so a crash in between loses nothing.
	if err := a.persist(union(next, old)); err != nil {
		return n, err
	}
	m, failed, err := a.execute(ctx, verb, acts)
	n += m
	if perr := a.persist(keepFailed(next, old, failed)); perr != nil {
		err = errors.Join(err, perr)
	}
	if n > 0 && verb != "repair" {
		a.log.Info(verb+" done", "changes", n)
	}
	return n, err
}

// persist writes the state file if the state changed.
func (a *Agent) persist(next State) error {
	if a.loaded && next.equal(a.st) {
		return nil
	}
	if err := SaveState(a.spec.StateFile, next); err != nil {
		return err
	}
	a.st = next
	return nil
}

// execute runs actions in order, logging each. It never adds a VIP after a
// sysctl write failed (the node could then answer ARP for it). It returns
// the number of changes made and the actions that failed.
func (a *Agent) execute(ctx context.Context, verb string, acts []Action) (int, []Action, error) {
	var errs []error
	var failed []Action
	n, unsafe := 0, false
	for _, act := range acts {
		var err error
		switch {
		case act.Kind == ActAddAddr && unsafe:
			err = errors.New("not added: a sysctl write failed before, and the node could answer ARP for it")
		case act.Kind == ActEnsureTunnel:
			err = a.ensureTunnel(ctx, verb, act)
		default:
			err = apply(ctx, a.sys, act)
		}
		if err != nil {
			if act.Kind == ActWriteSysctl {
				unsafe = true
			}
			failed = append(failed, act)
			errs = append(errs, fmt.Errorf("%s %s: %w", act.Kind, act.What(), err))
			a.log.Error(verb+" failed", "action", act.Kind.String(), "what", act.What(), "expected", act.Expected, "found", act.Found, "err", err)
			continue
		}
		n++
		a.logAction(verb, act)
	}
	return n, failed, errors.Join(errs...)
}

func (a *Agent) logAction(verb string, act Action) {
	level := slog.LevelInfo
	if verb == "repair" {
		level = slog.LevelWarn
	}
	a.log.Log(context.Background(), level, verb, "action", act.Kind.String(), "what", act.What(), "expected", act.Expected, "found", act.Found)
}

// ensureTunnel makes a missing tunnel device exist and be up: modprobe first
// (the module brings the fallback device tunl0/ip6tnl0), else create a
// catch-all device over netlink, recorded as created so restore deletes it.
func (a *Agent) ensureTunnel(ctx context.Context, verb string, act Action) error {
	module := "ipip"
	if act.IPv6 {
		module = "ip6_tunnel"
	}
	prev, hadRec := a.st.Links[act.Link]
	merr := a.sys.LoadModule(ctx, module)
	li, err := a.sys.Link(act.Link)
	switch {
	case err == nil:
		if !hadRec {
			next := a.st.clone()
			next.setLink(act.Link, LinkRecord{WasUp: li.Up})
			if err := a.persist(next); err != nil {
				return err
			}
		}
		a.log.Info(verb, "action", "load-module", "module", module, "what", "link "+act.Link)
	case errors.Is(err, ErrLinkNotFound):
		next := a.st.clone()
		next.setLink(act.Link, LinkRecord{Created: true})
		if err := a.persist(next); err != nil {
			return err
		}
		if cerr := a.sys.CreateTunnel(act.Link, act.IPv6); cerr != nil {
			undo := a.st.clone()
			if hadRec {
				undo.setLink(act.Link, prev)
			} else {
				delete(undo.Links, act.Link)
			}
			if err := a.persist(undo); err != nil {
				a.log.Error("state file", "err", err)
			}
			return fmt.Errorf("device %s does not exist and cannot be made: modprobe %s: %v; creating it: %w "+
				"(TUN mode needs the kernel's IP-in-IP support, CONFIG_NET_IPIP or CONFIG_IPV6_TUNNEL)", act.Link, module, merr, cerr)
		}
		a.log.Info(verb, "action", "create-link", "what", "link "+act.Link, "module_error", fmt.Sprint(merr))
	default:
		return fmt.Errorf("read link %s: %w", act.Link, err)
	}
	li, err = a.sys.Link(act.Link)
	if err != nil {
		return fmt.Errorf("read link %s: %w", act.Link, err)
	}
	if !li.Up {
		if err := a.sys.SetLinkUp(act.Link, true); err != nil {
			return fmt.Errorf("set %s up: %w", act.Link, err)
		}
	}
	return nil
}

// apply makes one change.
func apply(ctx context.Context, sys System, act Action) error {
	switch act.Kind {
	case ActLinkUp:
		return sys.SetLinkUp(act.Link, true)
	case ActLinkDown:
		return sys.SetLinkUp(act.Link, false)
	case ActDeleteLink:
		return sys.DeleteLink(act.Link)
	case ActWriteSysctl:
		return sys.WriteSysctl(act.Key, act.Value)
	case ActAddAddr:
		return sys.AddAddr(act.Addr)
	case ActDelAddr:
		return sys.DelAddr(act.Addr)
	}
	return fmt.Errorf("unexpected action %v", act.Kind)
}

// Restore puts back everything the state file records: it removes the
// addresses lbrs added (not those that were there before), then writes back
// the original sysctl values, then returns devices to their original state
// (down, or deleted if lbrs created them). Things already back are skipped;
// the state file is removed when everything is done, or keeps what failed.
// It needs no spec: only the state file. Without a spec to say which devices
// are lbrs's, records may only concern lo, dummy and tunnel devices; a state
// file lbrs refuses (ErrBadState) changes nothing.
func Restore(ctx context.Context, sys System, stateFile string, log *slog.Logger) error {
	return restore(ctx, sys, stateFile, nil, log)
}

// loadChecked loads the state file and checks it against the devices the
// configuration uses (nil: no configuration, the device kinds lbrs uses)
// and against the node: see [State.fits] and [State.checkKernel].
func loadChecked(sys System, path string, devices []string) (State, error) {
	st, err := LoadState(path)
	if err != nil || st.Empty() {
		return st, err
	}
	var p problems
	if devices != nil {
		st.fits(devices, &p)
	}
	obs, err := observe(sys, linkNames(desiredState{}, st), nil)
	if err != nil {
		return State{}, err
	}
	all, err := sys.AllAddrs()
	if err != nil {
		return State{}, fmt.Errorf("list node addresses: %w", err)
	}
	st.checkKernel(obs, all, devices, &p)
	if err := p.err(path); err != nil {
		return State{}, err
	}
	return st, nil
}

// restore is Restore for the devices of a configuration (nil: none known).
func restore(ctx context.Context, sys System, stateFile string, devices []string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := loadChecked(sys, stateFile, devices)
	if err != nil {
		return err
	}
	if st.Empty() {
		log.Info("restore: nothing recorded, nothing to do", "state_file", stateFile)
		return SaveState(stateFile, st)
	}
	obs, err := observe(sys, linkNames(desiredState{}, st), sysctlKeys(desiredState{}, st))
	if err != nil {
		return err
	}
	acts, rest := planRestore(st, obs)
	var errs []error
	for _, act := range acts {
		err := apply(ctx, sys, act)
		if err != nil && !errMissing(err) {
			errs = append(errs, fmt.Errorf("%s %s: %w", act.Kind, act.What(), err))
			log.Error("restore failed", "action", act.Kind.String(), "what", act.What(), "expected", act.Expected, "found", act.Found, "err", err)
			continue
		}
		rest.forget(act)
		log.Info("restore", "action", act.Kind.String(), "what", act.What(), "expected", act.Expected, "found", act.Found)
	}
	if err := SaveState(stateFile, rest); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Watch keeps the spec in place until ctx ends: it resyncs on every address
// or link change reported by the System (after a short quiet period, so a
// burst costs one resync) and every Spec.ResyncInterval (sysctls have no
// change events). A broken subscription is re-opened, followed by a full
// resync since events may have been lost. Apply should have run first.
func (a *Agent) Watch(ctx context.Context) error {
	const (
		debounce    = 20 * time.Millisecond
		resubscribe = time.Second
	)
	interval := a.Spec().ResyncInterval
	tick := time.NewTimer(interval)
	defer tick.Stop()
	var events <-chan struct{}
	var settle, retry <-chan time.Time
	subscribe := func() bool {
		ch, err := a.sys.Subscribe(ctx)
		if err != nil {
			a.log.Error("subscribe to address changes failed; retrying", "err", err, "retry_in", resubscribe)
			retry = time.After(resubscribe)
			return false
		}
		events, retry = ch, nil
		return true
	}
	resync := func(why string) {
		if n, err := a.Resync(ctx); err != nil {
			a.log.Error("resync failed", "trigger", why, "err", err)
		} else if n > 0 {
			a.log.Info("resync repaired drift", "trigger", why, "changes", n)
		}
	}
	if subscribe() {
		// Changes between Apply and now were not seen.
		resync("subscribed")
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				a.log.Warn("address change subscription closed; resubscribing")
				events = nil
				if subscribe() {
					resync("resubscribed")
				}
				continue
			}
			if settle == nil {
				settle = time.After(debounce)
			}
		case <-settle:
			settle = nil
			resync("netlink")
		case <-retry:
			if subscribe() {
				resync("resubscribed")
			}
		case <-tick.C:
			resync("interval")
			interval = a.Spec().ResyncInterval
			tick.Reset(interval)
		}
	}
}

// linkNames lists the devices of interest: desired ones and those the state
// records (for undoing).
func linkNames(d desiredState, st State) []string {
	var names []string
	for _, l := range d.Links {
		names = append(names, l.Name)
	}
	for _, a := range d.Addrs {
		names = append(names, a.Link)
	}
	names = append(names, sortedKeys(st.Links)...)
	for _, r := range st.Addresses {
		names = append(names, r.Link)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func sysctlKeys(d desiredState, st State) []string {
	var keys []string
	for _, s := range d.Sysctls {
		keys = append(keys, s.Key)
	}
	keys = append(keys, sortedKeys(st.Sysctls)...)
	slices.Sort(keys)
	return slices.Compact(keys)
}

// union is next plus whatever old records next dropped.
func union(next, old State) State {
	u := next.clone()
	for k, v := range old.Sysctls {
		if _, ok := u.Sysctls[k]; !ok {
			u.setSysctl(k, v)
		}
	}
	for k, v := range old.Links {
		if _, ok := u.Links[k]; !ok {
			u.setLink(k, v)
		}
	}
	for _, r := range old.Addresses {
		if _, i := u.addr(r.Link, r.Prefix.Addr()); i < 0 {
			u.Addresses = append(u.Addresses, r)
		}
	}
	return u
}

// keepFailed is next plus the old records of undo actions that failed, so a
// later apply or restore tries again, minus the records of addresses that
// could not be added.
func keepFailed(next, old State, failed []Action) State {
	k := next.clone()
	for _, act := range failed {
		switch act.Kind {
		case ActWriteSysctl:
			if v, ok := old.Sysctls[act.Key]; ok {
				if _, in := k.Sysctls[act.Key]; !in {
					k.setSysctl(act.Key, v)
				}
			}
		case ActDelAddr:
			if r, i := old.addr(act.Link, act.Addr.Prefix.Addr()); i >= 0 {
				if _, j := k.addr(r.Link, r.Prefix.Addr()); j < 0 {
					k.Addresses = append(k.Addresses, r)
				}
			}
		case ActAddAddr:
			// Never added: do not claim it (someone else may add it later).
			if _, i := old.addr(act.Link, act.Addr.Prefix.Addr()); i < 0 {
				if _, j := k.addr(act.Link, act.Addr.Prefix.Addr()); j >= 0 {
					k.Addresses = slices.Delete(k.Addresses, j, j+1)
				}
			}
		case ActLinkDown, ActDeleteLink:
			if r, ok := old.Links[act.Link]; ok {
				if _, in := k.Links[act.Link]; !in {
					k.setLink(act.Link, r)
				}
			}
		}
	}
	return k
}
