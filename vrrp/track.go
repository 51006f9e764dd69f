package vrrp

// Tracking: scripts and interfaces adjust an instance's priority or put it
// in FAULT. The decisions here are pure; the router runs the scripts and
// watches the links.

// trackStatus is what a tracked object last reported.
type trackStatus uint8

const (
	trackUnknown trackStatus = iota // a script that has not completed yet
	trackUp
	trackDown
)

// trackItem is one tracked object as an instance sees it.
type trackItem struct {
	weight int
	status trackStatus
}

// trackResult computes the effective priority and fault of an instance from
// its base priority and its tracked objects, as keepalived does: a failing
// object of weight 0 is a fault; a positive weight is added while the object
// is up, a negative one while it is down; the sum is kept within 1..254; the
// address owner (255) is never adjusted. pending is set while an object of
// weight 0 has not reported yet: the instance waits before starting.
func trackResult(base uint8, items []trackItem) (prio uint8, fault, pending bool) {
	total := int(base)
	for _, it := range items {
		switch {
		case it.weight == 0 && it.status == trackDown:
			fault = true
		case it.weight == 0 && it.status == trackUnknown:
			pending = true
		case it.weight > 0 && it.status == trackUp:
			total += it.weight
		case it.weight < 0 && it.status == trackDown:
			total += it.weight
		}
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
