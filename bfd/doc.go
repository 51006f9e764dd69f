// Package bfd is a small Bidirectional Forwarding Detection implementation
// (RFC 5880 asynchronous mode, RFC 5881 single-hop IPv4 over UDP), for
// VRRP's fast peer-failure detection: a backup learns that its master died
// silently within Detect Mult x the agreed interval instead of VRRP's
// Master_Down_Interval.
//
// Three layers, the first two pure:
//   - packet.go: the control packet codec with the receive validation of
//     RFC 5880 6.8.6 (Decode), each rejection a DropReason;
//   - session.go: one session's state machine (Down, Init, Up, AdminDown),
//     a value whose methods take the time as an input and return the next
//     session; the caller sends and arms timers;
//   - runner.go: the sessions of a process over a narrow Conn (UDP 3784,
//     TTL 255 sent and required, conn_linux.go), jittered transmission
//     (RFC 5880 6.8.7), state changes to subscribers.
//
// Authentication, echo mode and demand mode are not implemented: a packet
// with the A or D bit is dropped.
package bfd
