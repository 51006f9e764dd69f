// Package healthcheck runs health checks against real servers and reports
// when each one goes up or down.
//
// It knows nothing of IPVS: a Scheduler runs Checkers (HTTP, HTTPS, TCP
// connect, script, DNS, UDP, ping, SMTP) on keepalived's timing (delay_loop, connect_timeout,
// retry, delay_before_retry, warmup, alpha, plus optional rise/fall) and
// calls back with a Transition whenever a check's state changes. The
// director turns transitions into table changes.
//
// Identical checks of the same target (same Spec and Timing, see Key) run
// once, whatever the number of subscribers registered with Scheduler.Add;
// every subscriber's ID is listed in the transitions of the shared check.
//
// The up/down logic (Health.Step) and the schedule table are pure and take
// the current time as an argument; only the Scheduler's Run loop and the
// checkers touch clocks and sockets.
package healthcheck
