package table

// DefaultScheduler is the scheduler of a service that names none: the
// kernel's and ipvsadm's default, and keepalived's (IPVS_DEF_SCHED).
const DefaultScheduler = "wlc"

// Schedulers returns the names of the IPVS schedulers the kernel ships
// (ip_vs_<name>.ko), in ipvsadm's order. A given kernel may lack some (6.1
// has no twos); the kernel answers ENOENT for those.
func Schedulers() []string {
	return []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "mh", "sed", "nq", "fo", "ovf", "twos"}
}
