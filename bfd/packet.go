package bfd

import (
	"encoding/binary"
	"fmt"
	"time"
)

// State is a BFD session state (RFC 5880 4.1, the Sta field).
type State uint8

// Session states, with their wire values.
const (
	StateAdminDown State = 0
	StateDown      State = 1
	StateInit      State = 2
	StateUp        State = 3
)

func (s State) String() string {
	switch s {
	case StateAdminDown:
		return "AdminDown"
	case StateDown:
		return "Down"
	case StateInit:
		return "Init"
	case StateUp:
		return "Up"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText makes states readable in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Diag is a diagnostic code (RFC 5880 4.1): why the session last left Up.
type Diag uint8

// Diagnostics used here.
const (
	DiagNone          Diag  = 0
	DiagDetectExpired Diag  = 1 // Control Detection Time Expired
	DiagNeighborDown  Diag  = 3 // Neighbor Signaled Session Down
	DiagAdminDown     Diag  = 7 // Administratively Down
	maxDiag           Diag  = 31
	version           uint8 = 1
	headerLen               = 24
	authHeaderMinLen        = 2
	flagPoll                = 0x20
	flagFinal               = 0x10
	flagCPI                 = 0x08
	flagAuth                = 0x04
	flagDemand              = 0x02
	flagMultipoint          = 0x01
)

func (d Diag) String() string {
	switch d {
	case DiagNone:
		return "none"
	case DiagDetectExpired:
		return "detection time expired"
	case DiagNeighborDown:
		return "neighbor signaled session down"
	case DiagAdminDown:
		return "administratively down"
	}
	return fmt.Sprintf("diag %d", uint8(d))
}

// Packet is a BFD control packet without authentication.
type Packet struct {
	Diag  Diag
	State State
	Poll  bool
	Final bool
	// ControlPlaneIndependent is the C bit (always sent clear here).
	ControlPlaneIndependent bool
	DetectMult              uint8
	MyDiscr, YourDiscr      uint32
	DesiredMinTx            time.Duration // microsecond resolution on the wire
	RequiredMinRx           time.Duration
	RequiredMinEchoRx       time.Duration
}

// DropReason says why a received packet was discarded.
type DropReason string

// Reasons for dropping a packet (RFC 5880 6.8.6 and the runner's own).
const (
	DropShort       DropReason = "short"        // fewer than 24 bytes
	DropVersion     DropReason = "version"      // version is not 1
	DropLength      DropReason = "length"       // Length field below the minimum or beyond the datagram
	DropDetectMult  DropReason = "detect_mult"  // Detect Mult is zero
	DropMultipoint  DropReason = "multipoint"   // M bit set
	DropMyDiscr     DropReason = "my_discr"     // My Discriminator is zero
	DropYourDiscr   DropReason = "your_discr"   // Your Discriminator zero in a state other than Down or AdminDown
	DropAuth        DropReason = "auth"         // A bit set: authentication is not in use here
	DropDemand      DropReason = "demand"       // D bit set: demand mode is not supported
	DropTTL         DropReason = "ttl"          // received TTL is not 255 (RFC 5881 5)
	DropNoSession   DropReason = "no_session"   // no session matches the discriminator or the source
	DropSessionAdmn DropReason = "admin_down"   // the session is AdminDown: everything is discarded
	DropRead        DropReason = "read_error"   // the socket failed to deliver (counted, not a packet)
	DropUnknownSrc  DropReason = "unknown_peer" // Your Discriminator zero from an address with no session
	DropTooMany     DropReason = "too_many"     // a new passive session past the bound
)

// DecodeError is a packet Decode refused, with the reason.
type DecodeError struct {
	Reason DropReason
	Detail string
}

func (e *DecodeError) Error() string {
	return "bfd: packet dropped (" + string(e.Reason) + "): " + e.Detail
}

func drop(r DropReason, format string, args ...any) error {
	return &DecodeError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Decode parses and validates a control packet per RFC 5880 6.8.6 (the
// checks that need no session): version, length, Detect Mult, the
// multipoint bit, My Discriminator, Your Discriminator against the state,
// and the A and D bits this implementation does not support. Bytes past
// the Length field are ignored. A refusal is a *DecodeError.
func Decode(b []byte) (Packet, error) {
	if len(b) < headerLen {
		return Packet{}, drop(DropShort, "%d bytes, need %d", len(b), headerLen)
	}
	if v := b[0] >> 5; v != version {
		return Packet{}, drop(DropVersion, "version %d", v)
	}
	flags := b[1] & 0x3f
	n := int(b[3])
	minLen := headerLen
	if flags&flagAuth != 0 {
		minLen = headerLen + authHeaderMinLen
	}
	if n < minLen || n > len(b) {
		return Packet{}, drop(DropLength, "length field %d, datagram %d bytes", n, len(b))
	}
	p := Packet{
		Diag:                    Diag(b[0] & 0x1f),
		State:                   State(b[1] >> 6),
		Poll:                    flags&flagPoll != 0,
		Final:                   flags&flagFinal != 0,
		ControlPlaneIndependent: flags&flagCPI != 0,
		DetectMult:              b[2],
		MyDiscr:                 binary.BigEndian.Uint32(b[4:]),
		YourDiscr:               binary.BigEndian.Uint32(b[8:]),
		DesiredMinTx:            usec(b[12:]),
		RequiredMinRx:           usec(b[16:]),
		RequiredMinEchoRx:       usec(b[20:]),
	}
	switch {
	case p.DetectMult == 0:
		return Packet{}, drop(DropDetectMult, "detect mult 0")
	case flags&flagMultipoint != 0:
		return Packet{}, drop(DropMultipoint, "multipoint bit set")
	case p.MyDiscr == 0:
		return Packet{}, drop(DropMyDiscr, "my discriminator 0")
	case p.YourDiscr == 0 && p.State != StateDown && p.State != StateAdminDown:
		return Packet{}, drop(DropYourDiscr, "your discriminator 0 in state %s", p.State)
	case flags&flagAuth != 0:
		return Packet{}, drop(DropAuth, "authentication present, none configured")
	case flags&flagDemand != 0:
		return Packet{}, drop(DropDemand, "demand mode")
	}
	return p, nil
}

func usec(b []byte) time.Duration {
	return time.Duration(binary.BigEndian.Uint32(b)) * time.Microsecond
}

func putUsec(b []byte, d time.Duration) {
	us := d / time.Microsecond
	switch {
	case us < 0:
		us = 0
	case us > 1<<32-1:
		us = 1<<32 - 1
	}
	binary.BigEndian.PutUint32(b, uint32(us))
}

// Append encodes p (24 bytes, no authentication) after b. Intervals are
// rounded down to the microsecond and clamped to the field.
func (p Packet) Append(b []byte) []byte {
	var h [headerLen]byte
	h[0] = version<<5 | uint8(p.Diag&maxDiag)
	h[1] = uint8(p.State&3) << 6
	if p.Poll {
		h[1] |= flagPoll
	}
	if p.Final {
		h[1] |= flagFinal
	}
	if p.ControlPlaneIndependent {
		h[1] |= flagCPI
	}
	h[2] = p.DetectMult
	h[3] = headerLen
	binary.BigEndian.PutUint32(h[4:], p.MyDiscr)
	binary.BigEndian.PutUint32(h[8:], p.YourDiscr)
	putUsec(h[12:], p.DesiredMinTx)
	putUsec(h[16:], p.RequiredMinRx)
	putUsec(h[20:], p.RequiredMinEchoRx)
	return append(b, h[:]...)
}
