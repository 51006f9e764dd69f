package vrrp

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/lvsd/lb/internal/runas"
)

// This file is the one place that knows a VRRP instance's options, their
// keepalived defaults and their rules. The `yaml` tags are lbd.yaml's keys:
// internal/config decodes the file straight into these types, calls
// SetDefaults and Validate with what the file wrote, and turns FieldErrors
// into file:line errors. Adding an option is a field here, its default in
// SetDefaults, its rule in validate, and its keepalived keyword in the
// importer (internal/kaconf).

// keepalived's defaults for an instance, a tracked script and the GARP
// schedule.
const (
	DefaultVersion         = 2
	DefaultPriority        = 100
	DefaultAdvertInterval  = time.Second
	DefaultGARPMasterDelay = 5 * time.Second
	DefaultGARPRepeat      = 5
	DefaultGARPRefreshRep  = 1
	DefaultScriptInterval  = time.Second
	DefaultScriptRiseFall  = 1
	maxPreemptDelay        = 1000 * time.Second
	maxVIPs                = 255
	maxWeight              = 254
)

// Config is one VRRP instance (keepalived's vrrp_instance).
type Config struct {
	Name      string `yaml:"-"`                 // instance name, used in logs and notify arguments
	Interface string `yaml:"interface"`         // adverts are sent and received here; required
	VRID      int    `yaml:"virtual_router_id"` // 1-255; required
	Version   int    `yaml:"version"`           // 2 or 3; default 2

	Priority       int           `yaml:"priority"`        // 1-255; 255 = address owner; default 100
	AdvertInterval time.Duration `yaml:"advert_interval"` // v2: whole seconds 1-255 s; v3: 10 ms steps to 40.95 s; default 1 s
	NoPreempt      bool          `yaml:"nopreempt"`       // a backup never takes over from a live master
	PreemptDelay   time.Duration `yaml:"preempt_delay"`   // 0-1000 s

	// InitialState is keepalived's "state": BACKUP (default) or MASTER
	// (take over after one advert interval if nobody speaks).
	InitialState StartState `yaml:"state"`

	// Authentication enables VRRPv2 simple text authentication (PASS).
	Authentication *Authentication `yaml:"authentication"`

	// SourceAddr is the source of our adverts and our address in the
	// tie-break; zero means the interface's primary address of the family.
	SourceAddr netip.Addr `yaml:"source_address"`
	// UnicastPeers, when set, replaces multicast (224.0.0.18 / ff02::12) by
	// unicast adverts to each peer.
	UnicastPeers []netip.Addr `yaml:"unicast_peers"`
	// CheckUnicastSrc drops a unicast advert whose source is not one of
	// UnicastPeers (keepalived check_unicast_src). nil means true: lbd
	// checks by default, keepalived only when told to.
	CheckUnicastSrc *bool `yaml:"check_unicast_src"`
	// UnicastMinTTL and UnicastMaxTTL drop a unicast advert whose TTL
	// (hop limit) is outside them; 0 means no bound (keepalived's
	// unicast_peer min_ttl/max_ttl, which it keeps per peer). A multicast
	// advert must always have TTL 255.
	UnicastMinTTL int `yaml:"unicast_min_ttl"`
	UnicastMaxTTL int `yaml:"unicast_max_ttl"`
	// UnicastPeerTTLs give peers their own TTL bounds in place of
	// UnicastMinTTL/UnicastMaxTTL (keepalived's per-peer "unicast_peer {
	// ADDR min_ttl N max_ttl M }"); a peer not listed takes the instance's.
	UnicastPeerTTLs []PeerTTL `yaml:"unicast_peer_ttls"`

	VIPs []VIP `yaml:"virtual_ipaddresses"` // at least one; all of one family (IPv6 needs version 3)

	// ExcludedVIPs move with the VIPs but are not advertised, and may be of
	// either family (keepalived virtual_ipaddress_excluded). Routes and
	// Rules are added after the addresses on becoming MASTER and removed
	// before them on leaving it (config_routes.go).
	ExcludedVIPs []VIP   `yaml:"virtual_ipaddresses_excluded"`
	Routes       []Route `yaml:"virtual_routes"`
	Rules        []Rule  `yaml:"virtual_rules"`

	TrackInterfaces []TrackInterface `yaml:"track_interfaces"`
	TrackScripts    []TrackScript    `yaml:"track_scripts"`
	TrackProcesses  []TrackProcess   `yaml:"track_processes"` // processes of the Set (config_track.go)
	TrackFiles      []TrackFile      `yaml:"track_files"`     // files of the Set (config_track.go)
	// DontTrackPrimary stops following the instance's own interface: by
	// default its link going down puts the instance in FAULT (keepalived
	// dont_track_primary, for cross-connected directors).
	DontTrackPrimary bool `yaml:"dont_track_primary"`

	Notify Notify     `yaml:"notify"`
	GARP   GARPConfig `yaml:"garp"`

	// SkipCheckAdvAddr stops logging adverts whose address list differs
	// from ours (keepalived skip_check_adv_addr); such adverts are never
	// dropped.
	SkipCheckAdvAddr bool `yaml:"skip_check_adv_addr"`

	// SMTPAlert mails the instance's state transitions to notify.email
	// (keepalived smtp_alert); nil follows notify.email.alert. The router
	// ignores it: lbd's notifier reads it.
	SMTPAlert *bool `yaml:"smtp_alert"`

	// VMAC puts the virtual addresses on a macvlan with the VRRP virtual
	// MAC (keepalived use_vmac, vmac_xmit_base); config_vmac.go.
	VMAC VMACConfig `yaml:"vmac"`

	// BFD, when set, runs BFD sessions to the peers for fast failure
	// detection (config_bfd.go).
	BFD *BFDConfig `yaml:"bfd"`
}

// StartState is the state an instance starts in (keepalived "state").
type StartState string

// Start states; "" means StartBackup.
const (
	StartBackup StartState = "BACKUP"
	StartMaster StartState = "MASTER"
)

// MarshalText writes the state; the zero value is BACKUP.
func (s StartState) MarshalText() ([]byte, error) {
	if s == "" {
		return []byte(StartBackup), nil
	}
	return []byte(s), nil
}

// UnmarshalText accepts MASTER or BACKUP, in any case.
func (s *StartState) UnmarshalText(b []byte) error {
	for _, v := range []StartState{StartMaster, StartBackup} {
		if strings.EqualFold(string(b), string(v)) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("unknown state %q (want one of MASTER, BACKUP)", b)
}

// Authentication is VRRPv2 authentication (keepalived authentication {}).
type Authentication struct {
	Type     AuthType `yaml:"type"`     // PASS; required
	Password string   `yaml:"password"` // 1-8 characters; required
}

// AuthType is a VRRPv2 authentication type. Only PASS is supported.
type AuthType string

// AuthTypePass is simple text password authentication.
const AuthTypePass AuthType = "PASS"

// UnmarshalText accepts PASS, in any case, and explains why AH is refused.
func (a *AuthType) UnmarshalText(b []byte) error {
	switch strings.ToUpper(string(b)) {
	case "PASS":
		*a = AuthTypePass
		return nil
	case "AH":
		return fmt.Errorf("authentication type AH is not supported (only PASS)")
	}
	return fmt.Errorf("unknown authentication type %q (want PASS)", b)
}

// password returns the PASS password, "" without authentication.
func (c *Config) password() string {
	if c.Authentication == nil {
		return ""
	}
	return c.Authentication.Password
}

// VIP is a virtual address the master holds.
type VIP struct {
	Prefix netip.Prefix `yaml:"address"` // address and prefix length (a bare address is /32 or /128); required
	Device string       `yaml:"device"`  // interface to add it to; default the instance's interface
	Label  string       `yaml:"label"`   // optional IPv4 label such as "eth0:0" (<= 15 bytes, starts with Device + ":")
	Scope  string       `yaml:"scope"`   // global (default), site, link, host or nowhere (keepalived "scope")
}

// TrackInterface makes the instance follow a link: when the link is down,
// Weight 0 puts the instance in FAULT, a negative weight lowers the priority;
// a positive weight raises the priority while the link is up. Reverse
// reverses the weight's effect, as keepalived's "weight N reverse": a
// positive weight lowers the priority while the link is up, a negative one
// raises it while the link is down, and weight 0 means FAULT while up.
type TrackInterface struct {
	Name    string `yaml:"name"`   // required
	Weight  int    `yaml:"weight"` // -254..254
	Reverse bool   `yaml:"reverse"`
}

// TrackScript makes the instance follow a ScriptConfig by name.
type TrackScript struct {
	Name string `yaml:"name"` // a script of the Set; required
	// Weight, if set, replaces the script's weight for this instance.
	Weight *int `yaml:"weight"`
}

// Notify holds the commands run on transitions, as argv (no shell). The
// state commands get no extra argument; Any gets keepalived's four:
// INSTANCE|GROUP NAME MASTER|BACKUP|FAULT|STOP PRIORITY.
type Notify struct {
	Master []string `yaml:"master,argv"`
	Backup []string `yaml:"backup,argv"`
	Fault  []string `yaml:"fault,argv"`
	Stop   []string `yaml:"stop,argv"`
	Any    []string `yaml:"any,argv"`
	User   string   `yaml:"user"`  // runs the commands as this user; default: the global script_user
	Group  string   `yaml:"group"` // and group; default: the user's
}

// Who is the user the notify commands run as.
func (n Notify) Who() runas.Who { return runas.Who{User: n.User, Group: n.Group} }

// GARPConfig is keepalived's gratuitous ARP (or unsolicited NA) schedule.
// A zero MasterDelay means no second burst (SetDefaults gives keepalived's
// 5 s when a file does not set it).
type GARPConfig struct {
	MasterDelay         time.Duration `yaml:"master_delay"`          // second burst this long after becoming master; 0 = none
	MasterRepeat        int           `yaml:"master_repeat"`         // GARPs per burst, 1-255; default 5
	MasterRefresh       time.Duration `yaml:"master_refresh"`        // periodic burst while master; 0 = none
	MasterRefreshRepeat int           `yaml:"master_refresh_repeat"` // GARPs per refresh burst, 1-255; default 1
	Interval            time.Duration `yaml:"interval"`              // gap between GARPs of a burst
}

// DefaultGARPConfig returns keepalived's defaults: 5 GARPs on becoming
// master, 5 more 5 s later, no refresh.
func DefaultGARPConfig() GARPConfig {
	return GARPConfig{MasterDelay: DefaultGARPMasterDelay, MasterRepeat: DefaultGARPRepeat, MasterRefreshRepeat: DefaultGARPRefreshRep}
}

// ScriptConfig is a tracked command (keepalived vrrp_script).
type ScriptConfig struct {
	Name     string        `yaml:"-"`
	Command  []string      `yaml:"command,argv"` // argv, run without a shell; exit 0 = success; required
	Interval time.Duration `yaml:"interval"`     // default 1 s
	Timeout  time.Duration `yaml:"timeout"`      // default Interval; a timeout is a failure
	Rise     int           `yaml:"rise"`         // successes in a row to go up; default 1
	Fall     int           `yaml:"fall"`         // failures in a row to go down; default 1
	Weight   int           `yaml:"weight"`       // -254..254; 0 = FAULT while failing
	User     string        `yaml:"user"`         // runs the command as this user; default: the global script_user
	Group    string        `yaml:"group"`        // and group; default: the user's
}

// Who is the user the script runs as.
func (s ScriptConfig) Who() runas.Who { return runas.Who{User: s.User, Group: s.Group} }

// SyncGroupConfig makes instances move together (keepalived
// vrrp_sync_group): one going BACKUP or FAULT takes the others with it, and
// they become MASTER only when all of them would.
type SyncGroupConfig struct {
	Name      string   `yaml:"-"`
	Instances []string `yaml:"instances"` // at least one; an instance is in one group at most
	Notify    Notify   `yaml:"notify"`
	// SMTPAlert mails the group's state transitions (keepalived
	// smtp_alert in a vrrp_sync_group); nil follows notify.email.alert.
	SMTPAlert *bool `yaml:"smtp_alert"`
}

// ipv6 reports whether the instance runs over IPv6: that of its first
// virtual address (all must share it), IPv4 when it has none.
func (c *Config) ipv6() bool {
	for _, v := range c.VIPs {
		if v.Prefix.IsValid() {
			return v.Prefix.Addr().Is6()
		}
	}
	return false
}

// Family names the instance's address family as lbd.yaml and the logs do:
// "ipv4" or "ipv6".
func (c *Config) Family() string { return familyName(c.ipv6()) }

func familyName(six bool) string {
	if six {
		return "ipv6"
	}
	return "ipv4"
}

func familyOf(a netip.Addr) string { return familyName(a.Is6() && !a.Is4In6()) }

// SetDefaults fills keepalived's defaults into the fields given reports
// absent (nil: the zero ones). The track scripts' weights stay as given:
// a nil weight is the script's.
func (c *Config) SetDefaults(given Given) {
	if !given.has("state", c.InitialState != "") {
		c.InitialState = StartBackup
	}
	if !given.has("version", c.Version != 0) {
		c.Version = DefaultVersion
	}
	if !given.has("priority", c.Priority != 0) {
		c.Priority = DefaultPriority
	}
	if !given.has("advert_interval", c.AdvertInterval != 0) {
		c.AdvertInterval = DefaultAdvertInterval
	}
	// check_unicast_src stays nil when absent: nil is true (checksUnicastSrc).
	for i := range c.VIPs {
		if v := &c.VIPs[i]; v.Device == "" {
			v.Device = c.Interface
		}
	}
	for i := range c.ExcludedVIPs {
		if v := &c.ExcludedVIPs[i]; v.Device == "" {
			v.Device = c.Interface
		}
	}
	c.setVMACDefaults()
	c.setBFDDefaults(given)
	// A zero master_delay is meaningful (no second burst): only a file
	// that leaves it out gets keepalived's 5 s.
	if !given.has("garp.master_delay", true) {
		c.GARP.MasterDelay = DefaultGARPMasterDelay
	}
	if !given.has("garp.master_repeat", c.GARP.MasterRepeat != 0) {
		c.GARP.MasterRepeat = DefaultGARPRepeat
	}
	if !given.has("garp.master_refresh_repeat", c.GARP.MasterRefreshRepeat != 0) {
		c.GARP.MasterRefreshRepeat = DefaultGARPRefreshRep
	}
}

// SetDefaults fills keepalived's defaults into the fields given reports
// absent (nil: the zero ones).
func (s *ScriptConfig) SetDefaults(given Given) {
	if !given.has("interval", s.Interval != 0) {
		s.Interval = DefaultScriptInterval
	}
	if !given.has("timeout", s.Timeout != 0) {
		s.Timeout = s.Interval
	}
	if !given.has("rise", s.Rise != 0) {
		s.Rise = DefaultScriptRiseFall
	}
	if !given.has("fall", s.Fall != 0) {
		s.Fall = DefaultScriptRiseFall
	}
}

// validate checks one instance after SetDefaults, reporting into f;
// isScript tells the scripts it may track. The Set checks what involves
// several instances (duplicates).
func (c *Config) validate(given Given, f fields, isScript func(name string) bool) {
	c.validateRouter(given, f)
	c.validateAuth(given, f)
	c.validateVIPs(given, f)
	c.validateExcluded(given, f)
	c.validateRoutes(given, f)
	c.validatePeers(f)
	c.validateBFD(f)
	for j, t := range c.TrackInterfaces {
		switch tp := "track_interfaces" + item(j); {
		case !given.has(tp+".name", t.Name != ""):
			f.at(tp).missing("name")
		case t.Name == "":
			f.add(tp+".name", "must not be empty")
		}
		f.weight("track_interfaces"+item(j)+".weight", t.Weight)
	}
	for j, t := range c.TrackScripts {
		tf := f.at("track_scripts" + item(j))
		switch {
		case !given.has("track_scripts"+item(j)+".name", t.Name != ""):
			tf.missing("name")
		case !isScript(t.Name):
			tf.add("name", "unknown script %q (define it under vrrp.scripts)", t.Name)
		}
		if t.Weight != nil {
			tf.weight("weight", *t.Weight)
		}
	}
	g := c.GARP
	f.intRange("garp.master_repeat", g.MasterRepeat, 1, 255)
	f.intRange("garp.master_refresh_repeat", g.MasterRefreshRepeat, 1, 255)
	if g.MasterDelay < 0 || g.MasterRefresh < 0 || g.Interval < 0 {
		f.add("garp", "durations must not be negative")
	}
	validateNotify(f.at("notify"), c.Notify)
	c.validateVMAC(f)
}

// validateRouter checks what identifies and times the virtual router.
func (c *Config) validateRouter(given Given, f fields) {
	if !given.has("interface", c.Interface != "") {
		f.missing("interface")
	} else if c.Interface == "" {
		f.add("interface", "must not be empty")
	}
	if !given.has("virtual_router_id", c.VRID != 0) {
		f.missing("virtual_router_id")
	} else {
		f.intRange("virtual_router_id", c.VRID, 1, 255)
	}
	if c.Version != 2 && c.Version != 3 {
		f.add("version", "must be 2 or 3, got %d", c.Version)
	}
	f.intRange("priority", c.Priority, 1, 255)
	ai := c.AdvertInterval
	switch c.Version {
	case 2:
		if ai < time.Second || ai > 255*time.Second || ai%time.Second != 0 {
			f.add("advert_interval", "with VRRP version 2 must be whole seconds from 1s to 255s, got %s", ai)
		}
	case 3:
		if ai < 10*time.Millisecond || ai > 4095*10*time.Millisecond || ai%(10*time.Millisecond) != 0 {
			f.add("advert_interval", "with VRRP version 3 must be a multiple of 10ms from 10ms to 40.95s, got %s", ai)
		}
	}
	switch c.InitialState {
	case StartBackup, StartMaster:
	default:
		f.add("state", "unknown state %q (want one of MASTER, BACKUP)", c.InitialState)
	}
	if c.NoPreempt && c.InitialState == StartMaster {
		f.add("nopreempt", "nopreempt needs state BACKUP (an instance starting as MASTER takes over anyway)")
	}
	switch {
	case c.PreemptDelay < 0:
		f.add("preempt_delay", "must not be negative, got %s", c.PreemptDelay)
	case c.PreemptDelay > maxPreemptDelay:
		f.add("preempt_delay", "must be at most 1000s, got %s", c.PreemptDelay)
	}
}

func (c *Config) validateAuth(given Given, f fields) {
	a := c.Authentication
	if a == nil {
		return
	}
	af := f.at("authentication")
	if c.Version == 3 {
		af.add("", "authentication is not supported with VRRP version 3")
	}
	if !given.has("authentication.type", a.Type != "") {
		af.missing("type")
	} else if a.Type != AuthTypePass {
		af.add("type", "unknown authentication type %q (want PASS)", a.Type)
	}
	switch {
	case !given.has("authentication.password", a.Password != ""):
		af.missing("password")
	case a.Password == "":
		af.add("password", "must not be empty")
	case len(a.Password) > authLen:
		af.add("password", "must be at most 8 characters, got %d", len(a.Password))
	}
}

// validateVIPs checks the virtual addresses: one family (that of the
// first), usable as a service address, labels as the kernel takes them.
func (c *Config) validateVIPs(given Given, f fields) {
	switch {
	case !given.has("virtual_ipaddresses", len(c.VIPs) > 0):
		f.missing("virtual_ipaddresses")
	case len(c.VIPs) == 0:
		f.add("virtual_ipaddresses", "at least one address required")
	case len(c.VIPs) > maxVIPs:
		f.add("virtual_ipaddresses", "at most %d addresses, got %d", maxVIPs, len(c.VIPs))
	}
	fam := c.Family()
	for j, v := range c.VIPs {
		vf := f.at("virtual_ipaddresses" + item(j))
		if !given.has("virtual_ipaddresses"+item(j)+".address", v.Prefix.IsValid()) {
			vf.missing("address")
			continue
		}
		if !v.Prefix.IsValid() {
			continue // the loader has said why
		}
		a := v.Prefix.Addr()
		if !UsableAddress(a) {
			vf.add("address", "%s cannot be a virtual address", a)
		}
		if familyOf(a) != fam {
			vf.add("address", "%s address in an instance whose first address is %s", familyOf(a), fam)
		}
		validateLabel(vf, v, familyOf(a))
		oneOf(vf, "scope", v.Scope, routeScopes)
		if v.Device == "" {
			vf.add("device", "must not be empty")
		}
	}
	if fam == "ipv6" && c.Version == 2 && len(c.VIPs) > 0 {
		f.add("version", "IPv6 virtual addresses need VRRP version 3")
	}
}

func validateLabel(f fields, v VIP, fam string) {
	switch {
	case v.Label == "":
	case fam != "ipv4":
		f.add("label", "labels are IPv4 only")
	case len(v.Label) > 15:
		f.add("label", "label %q is longer than 15 bytes", v.Label)
	case !strings.HasPrefix(v.Label, v.Device+":") || len(v.Label) == len(v.Device)+1:
		f.add("label", "label %q must be the device name %q, a colon and a suffix (e.g. %s:0)", v.Label, v.Device, v.Device)
	}
}

// UsableAddress reports whether a can be a virtual (service) address: not
// unspecified, multicast or loopback.
func UsableAddress(a netip.Addr) bool {
	return !a.IsUnspecified() && !a.IsMulticast() && !a.IsLoopback()
}

func (c *Config) validatePeers(f fields) {
	fam := c.Family()
	if c.SourceAddr.IsValid() && familyOf(c.SourceAddr) != fam {
		f.add("source_address", "%s source address in an %s instance", familyOf(c.SourceAddr), fam)
	}
	seen := map[netip.Addr]bool{}
	for j, a := range c.UnicastPeers {
		p := "unicast_peers" + item(j)
		switch {
		case !a.IsValid():
		case familyOf(a) != fam:
			f.add(p, "%s peer in an %s instance", familyOf(a), fam)
		case seen[a]:
			f.add(p, "duplicate peer %s", a)
		case a == c.SourceAddr:
			f.add(p, "peer %s is this instance's own source_address", a)
		}
		seen[a] = true
	}
	for _, t := range []struct {
		key string
		v   int
	}{{"unicast_min_ttl", c.UnicastMinTTL}, {"unicast_max_ttl", c.UnicastMaxTTL}} {
		switch {
		case t.v < 0 || t.v > 255:
			f.add(t.key, "%d is not a TTL (0-255)", t.v)
		case t.v != 0 && len(c.UnicastPeers) == 0:
			f.add(t.key, "applies to unicast adverts only: set unicast_peers or remove it")
		}
	}
	if c.UnicastMaxTTL != 0 && c.UnicastMinTTL > c.UnicastMaxTTL {
		f.add("unicast_min_ttl", "%d is above unicast_max_ttl %d: every advert would be dropped", c.UnicastMinTTL, c.UnicastMaxTTL)
	}
	c.validatePeerTTLs(f)
}

// checksUnicastSrc reports whether unicast sources are checked (the
// default, also before SetDefaults).
func (c *Config) checksUnicastSrc() bool { return c.CheckUnicastSrc == nil || *c.CheckUnicastSrc }

func validateNotify(f fields, n Notify) {
	for _, c := range []struct {
		key  string
		argv []string
	}{{"master", n.Master}, {"backup", n.Backup}, {"fault", n.Fault}, {"stop", n.Stop}, {"any", n.Any}} {
		if len(c.argv) > 0 && c.argv[0] == "" {
			f.add(c.key, "empty program name")
		}
	}
	validateWho(f, n.User, n.Group)
}

// validateWho checks that a command's user and group exist (keepalived
// refuses the command otherwise); a group needs a user.
func validateWho(f fields, user, group string) {
	switch {
	case user == "" && group != "":
		f.add("group", "needs a user")
	case user != "":
		if _, err := runas.Lookup(runas.Who{User: user, Group: group}); err != nil {
			key := "user"
			if strings.HasPrefix(err.Error(), "script group") {
				key = "group"
			}
			f.add(key, "%v", err)
		}
	}
}

// validate checks one script after SetDefaults.
func (s *ScriptConfig) validate(given Given, f fields) {
	if !given.has("command", len(s.Command) > 0) {
		f.missing("command")
	} else if len(s.Command) == 0 || s.Command[0] == "" {
		f.add("command", "empty program name")
	}
	if s.Interval <= 0 {
		f.add("interval", "must be greater than 0")
	}
	if given.has("timeout", true) && s.Timeout <= 0 {
		f.add("timeout", "must be greater than 0")
	}
	f.intRange("rise", s.Rise, 1, 1<<31-1)
	f.intRange("fall", s.Fall, 1, 1<<31-1)
	validateWho(f, s.User, s.Group)
	f.weight("weight", s.Weight)
}

// vrid and basePriority are the validated VRID and priority as the wire
// carries them.
func (c *Config) vrid() uint8         { return uint8(c.VRID) }
func (c *Config) basePriority() uint8 { return uint8(c.Priority) }

// PassAuth returns PASS authentication with password pw.
func PassAuth(pw string) *Authentication {
	return &Authentication{Type: AuthTypePass, Password: pw}
}
