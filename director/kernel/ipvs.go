package kernel

// The IPVS generic netlink interface (linux/include/uapi/linux/ip_vs.h):
// the family, the commands and the attribute numbers this package sends or
// reads itself. cloudflare/ipvs carries its own copy for the calls it makes.
const (
	familyName  = "IPVS"
	genlVersion = 1

	// Commands (enum IPVS_CMD_*).
	cmdNewService = 1
	cmdSetService = 2
	cmdDelService = 3
	cmdNewDest    = 5
	cmdSetDest    = 6
	cmdDelDest    = 7
	cmdNewDaemon  = 9
	cmdDelDaemon  = 10
	cmdGetDaemon  = 11
	cmdGetInfo    = 15
	cmdFlush      = 17

	// Top-level attributes of a command (IPVS_CMD_ATTR_*), each nested.
	cmdAttrService = 1
	cmdAttrDest    = 2
	cmdAttrDaemon  = 3

	// Service attributes (IPVS_SVC_ATTR_*).
	svcAttrAF        = 1
	svcAttrProtocol  = 2
	svcAttrAddr      = 3
	svcAttrPort      = 4
	svcAttrFWMark    = 5
	svcAttrSchedName = 6
	svcAttrFlags     = 7
	svcAttrTimeout   = 8
	svcAttrNetmask   = 9

	// Destination attributes (IPVS_DEST_ATTR_*).
	destAttrAddr      = 1
	destAttrPort      = 2
	destAttrFwdMethod = 3
	destAttrWeight    = 4
	destAttrUThresh   = 5
	destAttrLThresh   = 6
	destAttrAF        = 11
	destAttrTunType   = 13
	destAttrTunPort   = 14
	destAttrTunFlags  = 15

	// Sync daemon attributes (IPVS_DAEMON_ATTR_*).
	daemonAttrState       = 1
	daemonAttrMcastIfn    = 2
	daemonAttrSyncID      = 3
	daemonAttrSyncMaxLen  = 4
	daemonAttrMcastGroup  = 5
	daemonAttrMcastGroup6 = 6
	daemonAttrMcastPort   = 7
	daemonAttrMcastTTL    = 8

	// svcFlagsMaskAll is the mask half of struct ip_vs_flags: the flags
	// sent replace all of the service's flags.
	svcFlagsMaskAll = 0xffffffff
)
