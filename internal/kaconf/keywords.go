package kaconf

// The tables below list keepalived keywords (keepalived.conf(5)) that lbd
// has no equivalent for, with the reason given in the unmapped list. A
// keyword in neither a table nor a block's handlers is reported as unknown.

const (
	noEquivalent = "no lbd equivalent"
	noMail       = "lbd e-mails VRRP state transitions only (notify.email): no checker or virtual server alerts"
	noSNMP       = "lbd has no SNMP agent (it exports Prometheus metrics)"
	noFirewall   = "lbd does not manage firewall rules"
	noFIFO       = "lbd's notify FIFO carries VRRP lines only (notify.fifo): no checker lines"
	noTuning     = "keepalived process tuning: no lbd equivalent"
	noUser       = "only a MISC_CHECK runs a command as a user"
	noVMAC       = "lbd's virtual MAC is the instance's own macvlan only (use_vmac): no ipvlan, no per-address vmacs"
	noStrict     = "VRRP strict mode is not supported"
	noRoutes     = "lbd manages addresses only, not routes or rules"
	noTrackOther = "lbd tracks interfaces, scripts, processes and files only (write a vrrp_script that checks this)"
)

// noAH is why auth_type AH is not imported.
const noAH = "AH authentication is deliberately unsupported: lbd does PASS (VRRPv2) only, since RFC 3768 removed VRRP authentication, " +
	"VRRPv3 (RFC 5798) has none and keepalived's own manual marks AH \"not recommended\" (its IPsec-AH-like header is keepalived-only); " +
	"the instance is imported without authentication, so a keepalived peer still on AH drops lbd's adverts: move the pair to PASS or none first"

// noPrioChanges is the reason for a per-instance or per-group
// notify_priority_changes.
const noPrioChanges = "lbd writes the priority lines for every instance or none: notify.priority_changes (vrrp_notify_priority_changes)"

var topUnsupported = map[string]string{
	"bfd_instance":             "lbd has no BFD",
	"garp_group":               "GARP groups are not supported (use vrrp_garp_interval or garp_* per instance)",
	"linkbeat_interfaces":      noEquivalent,
	"interface_up_down_delays": "interface up/down debouncing is not supported",
	"SSL":                      "lbd's https checks use no client certificate and verify nothing unless tls_verify is set",
	"track_group":              noEquivalent,
	"net_namespace":            "run lbd inside the namespace instead",
	"net_namespace_ipvs":       "run lbd inside the namespace instead",
	"namespace_with_ipsets":    noEquivalent,
	"instance":                 noEquivalent,
	"use_pid_dir":              noEquivalent,
	"linkbeat_use_polling":     noEquivalent,
}

var globalUnsupported = map[string]string{
	"smtp_alert_checker":            noMail,
	"no_email_faults":               "lbd mails FAULT transitions too (set smtp_alert: false on the instance instead)",
	"enable_traps":                  noSNMP,
	"enable_snmp_vrrp":              noSNMP,
	"enable_snmp_keepalived":        noSNMP,
	"enable_snmp_checker":           noSNMP,
	"enable_snmp_rfc":               noSNMP,
	"enable_snmp_rfcv2":             noSNMP,
	"enable_snmp_rfcv3":             noSNMP,
	"snmp_socket":                   noSNMP,
	"vrrp_strict":                   noStrict,
	"vrrp_mcast_group4":             "lbd uses the standard VRRP multicast group 224.0.0.18",
	"vrrp_mcast_group6":             "lbd uses the standard VRRP multicast group ff02::12",
	"vrrp_iptables":                 noFirewall,
	"vrrp_ipsets":                   noFirewall,
	"nftables":                      noFirewall,
	"nftables_priority":             noFirewall,
	"nftables_ifindex":              noFirewall,
	"nftables_counters":             noFirewall,
	"nftables_ipvs":                 noFirewall,
	"lvs_notify_fifo":               noFIFO,
	"lvs_notify_fifo_script":        noFIFO,
	"vrrp_priority":                 noTuning,
	"checker_priority":              noTuning,
	"bfd_priority":                  noTuning,
	"vrrp_no_swap":                  noTuning,
	"checker_no_swap":               noTuning,
	"bfd_no_swap":                   noTuning,
	"vrrp_rt_priority":              noTuning,
	"checker_rt_priority":           noTuning,
	"bfd_rt_priority":               noTuning,
	"vrrp_cpu_affinity":             noTuning,
	"checker_cpu_affinity":          noTuning,
	"bfd_cpu_affinity":              noTuning,
	"vrrp_rlimit_rttime":            noTuning,
	"checker_rlimit_rttime":         noTuning,
	"bfd_rlimit_rttime":             noTuning,
	"max_auto_priority":             noTuning,
	"min_auto_priority_delay":       noTuning,
	"process_names":                 noTuning,
	"process_name":                  noTuning,
	"vrrp_process_name":             noTuning,
	"checker_process_name":          noTuning,
	"bfd_process_name":              noTuning,
	"vrrp_netlink_cmd_rcv_bufs":     noTuning,
	"vrrp_netlink_monitor_rcv_bufs": noTuning,
	"lvs_netlink_cmd_rcv_bufs":      noTuning,
	"lvs_netlink_monitor_rcv_bufs":  noTuning,
	"vrrp_rx_bufs_policy":           noTuning,
	"vrrp_rx_bufs_multiplier":       noTuning,
	"vrrp_startup_delay":            noEquivalent,
	"vrrp_delay_after_boot":         noEquivalent,
	"vrrp_garp_lower_prio_delay":    noEquivalent,
	"vrrp_garp_lower_prio_repeat":   noEquivalent,
	"vrrp_lower_prio_no_advert":     noEquivalent,
	"vrrp_higher_prio_send_advert":  noEquivalent,
	"vrrp_gna_interval":             noEquivalent,
	"vrrp_min_garp":                 noEquivalent,
	"vrrp_garp_extra_if":            noEquivalent,
	"vrrp_vmac_garp_intvl":          noEquivalent,
	"vrrp_down_timer_adverts":       "lbd keeps the RFC master-down interval (3 adverts)",
	"vrrp_owner_ignore_adverts":     noEquivalent,
	"dynamic_interfaces":            noEquivalent,
	"config_save_dir":               noEquivalent,
	"default_interface":             noEquivalent,
	"disable_local_igmp":            noEquivalent,
	"checker_log_all_failures":      noEquivalent,
	"lvs_sync_daemon_interface": "not a global_defs keyword: keepalived rejects it here " +
		"(give lvs_sync_daemon_interface inside the vrrp_instance, or use lvs_sync_daemon)",
	"random_seed":          noEquivalent,
	"reload_check_config":  noEquivalent,
	"reload_time_file":     noEquivalent,
	"reload_repeat":        noEquivalent,
	"reload_file":          noEquivalent,
	"data_use_instance":    noEquivalent,
	"tmp_config_directory": noEquivalent,
}

var instanceUnsupported = map[string]string{
	"no_virtual_ipaddress":       "lbd needs at least one virtual address per instance",
	"use_vmac_addr":              noVMAC,
	"use_ipvlan":                 noVMAC,
	"vrf":                        noEquivalent,
	"native_ipv6":                "deprecated in keepalived: the family follows the virtual addresses",
	"track_bfd":                  noTrackOther,
	"mcast_dst_ip":               "lbd uses the standard VRRP multicast group",
	"track_src_ip":               noEquivalent,
	"unicast_fault_no_peer":      noEquivalent,
	"unicast_ttl":                noEquivalent,
	"old_unicast_checksum":       noEquivalent,
	"v3_checksum_as_v2":          noEquivalent,
	"promote_secondaries":        noEquivalent,
	"linkbeat_use_polling":       noEquivalent,
	"accept":                     noEquivalent,
	"no_accept":                  noEquivalent,
	"strict_mode":                noStrict,
	"debug":                      "keepalived does not implement it either",
	"notify_deleted":             noEquivalent,
	"notify_master_rx_lower_pri": noEquivalent,
	"notify_priority_changes":    noPrioChanges,
	"garp_lower_prio_delay":      noEquivalent,
	"garp_lower_prio_repeat":     noEquivalent,
	"garp_extra_if":              noEquivalent,
	"vmac_garp_intvl":            noEquivalent,
	"down_timer_adverts":         "lbd keeps the RFC master-down interval (3 adverts)",
	"timer_expired_backup":       noEquivalent,
	"thread_timer_expired":       noEquivalent,
	"lower_prio_no_advert":       noEquivalent,
	"higher_prio_send_advert":    noEquivalent,
	"owner_ignore_adverts":       noEquivalent,
	"kernel_rx_buf_size":         noTuning,
	"auth_hmac":                  "only PASS authentication is supported",
	"garp_interval":              "not a vrrp_instance keyword: keepalived rejects it here (use vrrp_garp_interval in global_defs)",
}

var scriptUnsupported = map[string]string{
	"init_fail": noEquivalent,
}

var syncGroupUnsupported = map[string]string{
	"track_interface":            "track interfaces in the member instances",
	"track_script":               "track scripts in the member instances",
	"track_file":                 "track files in the member instances",
	"track_process":              "track processes in the member instances",
	"track_bfd":                  noTrackOther,
	"global_tracking":            noEquivalent,
	"sync_group_tracking_weight": noEquivalent,
	"notify_priority_changes":    noPrioChanges,
}

var serviceUnsupported = map[string]string{
	"ha_suspend":         noEquivalent,
	"smtp_alert":         noMail,
	"snmp_name":          noSNMP,
	"persistence_engine": noEquivalent,
	"hashed":             noEquivalent,
	"nat_mask":           "obsolete keyword (keepalived 0.x): keepalived rejects it",
}

var realUnsupported = map[string]string{
	"smtp_alert": noMail,
	"snmp_name":  noSNMP,
	// Checkers lbd does not have: the real server would count as up.
	"BFD_CHECK":  "lbd has no BFD check",
	"FILE_CHECK": "lbd has no file check (use a MISC_CHECK script)",
}

var checkerUnsupported = map[string]string{
	"bind_port":        "lbd has no option for the source port",
	"bind_if":          noEquivalent,
	"fwmark":           noEquivalent,
	"log_all_failures": noEquivalent,
	"http_protocol":    noEquivalent,
	"fast_recovery":    noEquivalent,
	"tls_compliant":    noEquivalent,
	"user":             noUser, // a MISC_CHECK's is mapped
	"sni_name": "not a keepalived keyword in any release up to 2.4.3: keepalived rejects it " +
		"(with enable_sni it sends the virtualhost as SNI, and so does lbd)",
}

var urlUnsupported = map[string]string{
	"regex":            "lbd checks the status and the digest, not a regular expression",
	"regex_no_match":   "lbd checks the status and the digest, not a regular expression",
	"regex_options":    "lbd checks the status and the digest, not a regular expression",
	"regex_min_offset": "lbd checks the status and the digest, not a regular expression",
	"regex_max_offset": "lbd checks the status and the digest, not a regular expression",
	"regex_stack":      "lbd checks the status and the digest, not a regular expression",
	"tls_compliant":    noEquivalent,
}
