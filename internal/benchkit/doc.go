// Package benchkit is what the host benchmarks that run keepalived's
// checker next to ours share (checkbench, rssbench): the HTTP server every
// real server's address reaches, run in a child process so that its CPU is
// not counted as the checker's; readers of a process's CPU time, memory
// and run-queue wait from /proc; and the LD_PRELOAD shim that lets
// keepalived run on this kernel, which has no IPVS.
package benchkit
