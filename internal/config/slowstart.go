package config

import "time"

// SlowStart is a real server's ramp when it comes back (its checks
// recover, or an operator lifts a drain or a maintenance): its weight
// climbs to the configured one over Duration, in Steps weights (the full
// one included; each one IPVS write). Set on a virtual server, it is the
// default of its real servers.
type SlowStart struct {
	Duration time.Duration `yaml:"slow_start"`       // 0 = off (default)
	Steps    int           `yaml:"slow_start_steps"` // 0 = the default (4)
}

// MaxSlowStart bounds slow_start.
const MaxSlowStart = time.Hour

// MaxSlowStartSteps bounds slow_start_steps.
const MaxSlowStartSteps = 100

// inherit gives the real server at p the service's defaults it does not
// set: inhibit_on_failure and the slow start keys.
func (r *report) inherit(rs *RealServer, vs *VirtualServer, p string) {
	if !r.has(p + ".inhibit_on_failure") {
		rs.InhibitOnFailure = vs.InhibitOnFailure
	}
	r.slowStartDefaults(&rs.SlowStart, &vs.SlowStart, p)
}

// slowStartDefaults gives the real server at p the service's keys it does
// not set.
func (r *report) slowStartDefaults(rs, vs *SlowStart, p string) {
	if !r.has(p + ".slow_start") {
		rs.Duration = vs.Duration
	}
	if !r.has(p + ".slow_start_steps") {
		rs.Steps = vs.Steps
	}
}

// validateSlowStart checks the slow start keys at p.
func (r *report) validateSlowStart(p string, s SlowStart) {
	if s.Duration < 0 || s.Duration > MaxSlowStart {
		r.errf(p+".slow_start", "must be 0 (off) to %s, got %s", MaxSlowStart, s.Duration)
	}
	if s.Steps != 0 {
		r.intRange(p+".slow_start_steps", s.Steps, 1, MaxSlowStartSteps)
	}
}
