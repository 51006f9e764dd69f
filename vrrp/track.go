package vrrp

// Tracking: scripts, interfaces, processes and files adjust an instance's
// priority or put it in FAULT. The decisions here are pure; the router runs
// the scripts and watches the links, processes (trackproc.go) and files
// (trackfile.go).

// trackStatus is what a tracked object last reported.
type trackStatus uint8

const (
	trackUnknown trackStatus = iota // a script that has not completed yet
	trackUp
	trackDown
)

// trackItem is one tracked object as an instance sees it.
type trackItem struct {
	weight  int
	reverse bool // keepalived's "weight N reverse": the weight's effect is reversed
	status  trackStatus
	// waitFirst: the instance waits for this object's first report
	// whatever its weight (processes and files report at once).
	waitFirst bool
	// file: a tracked file; value is the number it holds (status up once
	// read).
	file  bool
	value int64
}

// effect is what one tracked object does to its instance, as keepalived
// computes it: a positive weight adds itself while the object is up, a
// negative one while it is down, and reverse negates the addition; weight
// 0 is a fault while the object is down (reverse: while it is up). A file
// adds its number times its weight (negated by reverse), clamped to
// -254..253; -254 or below is a fault, and with weight 0 a number other
// than 0 (reverse: 0) is one.
func (it trackItem) effect() (delta int, fault, pending bool) {
	if it.status == trackUnknown {
		return 0, false, it.weight == 0 || it.waitFirst
	}
	mult := 1
	if it.reverse {
		mult = -1
	}
	if it.file {
		if it.weight == 0 {
			return 0, (it.value != 0) != it.reverse, false
		}
		v := min(max(it.value*int64(it.weight)*int64(mult), -254), 253)
		if v == -254 {
			return 0, true, false
		}
		return int(v), false, false
	}
	up := it.status == trackUp
	switch {
	case it.weight == 0:
		return 0, up == it.reverse, false
	case it.weight > 0 && up, it.weight < 0 && !up:
		return it.weight * mult, false, false
	}
	return 0, false, false
}

// trackResult computes the effective priority and fault of an instance from
// its base priority and its tracked objects (see effect); the sum is kept
// within 1..254; the address owner (255) is never adjusted. pending is set
// while an object the instance waits for has not reported yet: the
// instance waits before starting.
func trackResult(base uint8, items []trackItem) (prio uint8, fault, pending bool) {
	total := int(base)
	for _, it := range items {
		d, f, p := it.effect()
		total += d
		fault = fault || f
		pending = pending || p
	}
	if base == 255 {
		return 255, fault, pending
	}
	return uint8(min(max(total, 1), 254)), fault, pending
}

// riseFall debounces script results: the first result decides (keepalived
// starts a script one success short of up, so one success is enough and a
// failure is down); after that Rise successes in a row bring it up and Fall
// failures in a row bring it down.
type riseFall struct {
	rise, fall int
	status     trackStatus
	run        int // consecutive results against the current status
}

// observe records one result and reports whether the status changed.
func (r *riseFall) observe(ok bool) bool {
	switch {
	case r.status == trackUnknown:
		r.status = trackDown
		if ok {
			r.status = trackUp
		}
		r.run = 0
		return true
	case (r.status == trackUp) == ok:
		r.run = 0
		return false
	}
	r.run++
	need := r.fall
	if ok {
		need = r.rise
	}
	if r.run < need {
		return false
	}
	r.run = 0
	if ok {
		r.status = trackUp
	} else {
		r.status = trackDown
	}
	return true
}
