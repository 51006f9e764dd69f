package vrrp

import (
	"time"
)

// Fast peer-failure detection with BFD (RFC 5880, 5881): the instance's
// defaults and rules. The sessions themselves are the PeerMonitor's
// (lbd: package bfd).
const (
	DefaultBFDInterval   = 100 * time.Millisecond
	DefaultBFDMultiplier = 3
	minBFDInterval       = 10 * time.Millisecond
	maxBFDInterval       = 60 * time.Second
)

// BFDConfig turns on BFD for an instance: it runs a session to each peer
// (its unicast_peers, or the master whose adverts it hears), and a BACKUP
// whose session to its master goes down by silence takes over at once, as
// when Master_Down_Timer fires. A MASTER only answers.
type BFDConfig struct {
	// Interval is the transmit and receive interval asked of the peer
	// once the session is Up; default 100ms.
	Interval time.Duration `yaml:"interval"`
	// Multiplier is the Detect Mult: the peer is declared down after this
	// many intervals without a packet; default 3.
	Multiplier int `yaml:"multiplier"`
}

// DetectionTime is the failure detection time the instance asks for:
// Multiplier x Interval (the peer's own settings may lengthen it).
func (b BFDConfig) DetectionTime() time.Duration { return time.Duration(b.Multiplier) * b.Interval }

func (c *Config) setBFDDefaults(given Given) {
	b := c.BFD
	if b == nil {
		return
	}
	if !given.has("bfd.interval", b.Interval != 0) {
		b.Interval = DefaultBFDInterval
	}
	if !given.has("bfd.multiplier", b.Multiplier != 0) {
		b.Multiplier = DefaultBFDMultiplier
	}
}

func (c *Config) validateBFD(f fields) {
	b := c.BFD
	if b == nil {
		return
	}
	if c.ipv6() {
		f.add("bfd", "BFD is implemented for IPv4 instances only (RFC 5881 over IPv4)")
	}
	if b.Interval < minBFDInterval || b.Interval > maxBFDInterval || b.Interval%time.Microsecond != 0 {
		f.add("bfd.interval", "must be from 10ms to 60s in whole microseconds, got %s", b.Interval)
	}
	f.intRange("bfd.multiplier", b.Multiplier, 1, 255)
}
