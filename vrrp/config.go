package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Config is one VRRP instance (keepalived's vrrp_instance). Zero values take
// keepalived's defaults (see withDefaults), except GARP.MasterDelay where zero
// means "no second burst": start from DefaultGARPConfig to get keepalived's.
type Config struct {
	Name      string // instance name, used in logs and notify arguments
	Interface string // interface the adverts are sent and received on
	VRID      uint8  // virtual router id, 1-255
	Version   int    // 2 or 3; default 2

	Priority       uint8         // 1-255; 255 = address owner; default 100
	AdvertInterval time.Duration // v2: whole seconds 1-255 s; v3: 10 ms steps up to 40.95 s; default 1 s
	NoPreempt      bool          // keepalived nopreempt: a backup never takes over from a live master
	PreemptDelay   time.Duration // keepalived preempt_delay: 0-1000 s

	// AuthPass enables VRRPv2 simple text authentication (PASS); at most 8
	// bytes. Empty: no authentication.
	AuthPass string

	// SourceAddr is the source of our adverts and our address in the
	// tie-break; zero means the interface's primary address of the family.
	SourceAddr netip.Addr
	// UnicastPeers, when set, replaces multicast (224.0.0.18 / ff02::12) by
	// unicast adverts to each peer.
	UnicastPeers []netip.Addr

	VIPs []VIP // at least one; all of one family (IPv6 needs Version 3)

	TrackInterfaces []TrackInterface
	TrackScripts    []TrackScript

	Notify Notify
	GARP   GARPConfig

	// InitialState is keepalived's "state": StateBackup (default) or
	// StateMaster (take over after one advert interval if nobody speaks).
	InitialState State
}

// VIP is a virtual address the master holds.
type VIP struct {
	Prefix netip.Prefix // address and prefix length (a bare address is /32 or /128)
	Device string       // interface to add it to; default the instance's interface
	Label  string       // optional IPv4 label such as "eth0:0" (<= 15 bytes, starts with Device + ":")
}

// TrackInterface makes the instance follow a link: when the link is down,
// Weight 0 puts the instance in FAULT, a negative weight lowers the priority;
// a positive weight raises the priority while the link is up.
type TrackInterface struct {
	Name   string
	Weight int // -254..254
}

// TrackScript makes the instance follow a ScriptConfig by name. Weight
// overrides the script's weight when OverrideWeight is set.
type TrackScript struct {
	Name           string
	Weight         int
	OverrideWeight bool
}

// Notify holds the commands run on transitions, as argv (no shell). The
// state commands get no extra argument; Any gets keepalived's four:
// INSTANCE|GROUP NAME MASTER|BACKUP|FAULT|STOP PRIORITY.
type Notify struct {
	Master, Backup, Fault, Stop, Any []string
}

// GARPConfig is keepalived's gratuitous ARP (or unsolicited NA) schedule.
type GARPConfig struct {
	MasterDelay         time.Duration // second burst this long after becoming master; 0 = none
	MasterRepeat        int           // GARPs per burst; default 5
	MasterRefresh       time.Duration // periodic burst while master; 0 = none
	MasterRefreshRepeat int           // GARPs per refresh burst; default 1
	Interval            time.Duration // gap between GARPs of a burst
}

// DefaultGARPConfig returns keepalived's defaults: 5 GARPs on becoming
// master, 5 more 5 s later, no refresh.
func DefaultGARPConfig() GARPConfig {
	return GARPConfig{MasterDelay: 5 * time.Second, MasterRepeat: 5, MasterRefreshRepeat: 1}
}

// ScriptConfig is a tracked command (keepalived vrrp_script).
type ScriptConfig struct {
	Name     string
	Command  []string      // argv, run without a shell; exit 0 = success
	Interval time.Duration // default 1 s
	Timeout  time.Duration // default Interval; a timeout is a failure
	Rise     int           // successes in a row to go up; default 1
	Fall     int           // failures in a row to go down; default 1
	Weight   int           // -254..254; 0 = FAULT while failing
}

// SyncGroupConfig makes instances move together (keepalived
// vrrp_sync_group): one going BACKUP or FAULT takes the others with it, and
// they become MASTER only when all of them would.
type SyncGroupConfig struct {
	Name      string
	Instances []string
	Notify    Notify
}

// family reports whether the instance runs over IPv6.
func (c *Config) ipv6() bool {
	return len(c.VIPs) > 0 && c.VIPs[0].Prefix.Addr().Is6()
}

// withDefaults returns c with keepalived's defaults filled in.
func (c Config) withDefaults() Config {
	if c.Version == 0 {
		c.Version = 2
	}
	if c.Priority == 0 {
		c.Priority = 100
	}
	if c.AdvertInterval == 0 {
		c.AdvertInterval = time.Second
	}
	if c.InitialState == StateInit {
		c.InitialState = StateBackup
	}
	if c.GARP.MasterRepeat == 0 {
		c.GARP.MasterRepeat = 5
	}
	if c.GARP.MasterRefreshRepeat == 0 {
		c.GARP.MasterRefreshRepeat = 1
	}
	vips := make([]VIP, len(c.VIPs))
	for i, v := range c.VIPs {
		if v.Device == "" {
			v.Device = c.Interface
		}
		vips[i] = v
	}
	c.VIPs = vips
	return c
}

func (s ScriptConfig) withDefaults() ScriptConfig {
	if s.Interval == 0 {
		s.Interval = time.Second
	}
	if s.Timeout == 0 {
		s.Timeout = s.Interval
	}
	if s.Rise == 0 {
		s.Rise = 1
	}
	if s.Fall == 0 {
		s.Fall = 1
	}
	return s
}

// validate checks an instance after withDefaults.
func (c *Config) validate(scripts map[string]ScriptConfig) error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Name == "" {
		add("name is empty")
	}
	if c.Interface == "" {
		add("interface is empty")
	}
	if c.VRID == 0 {
		add("virtual router id must be 1-255")
	}
	switch c.Version {
	case 2:
		if c.AdvertInterval%time.Second != 0 || c.AdvertInterval < time.Second || c.AdvertInterval > 255*time.Second {
			add("advert interval %v: VRRPv2 needs whole seconds 1-255", c.AdvertInterval)
		}
	case 3:
		if c.AdvertInterval%(10*time.Millisecond) != 0 || c.AdvertInterval < 10*time.Millisecond || c.AdvertInterval > 4095*10*time.Millisecond {
			add("advert interval %v: VRRPv3 needs a multiple of 10ms, 10ms-40.95s", c.AdvertInterval)
		}
		if c.AuthPass != "" {
			add("authentication is VRRPv2 only")
		}
	default:
		add("version %d: must be 2 or 3", c.Version)
	}
	if len(c.AuthPass) > authLen {
		add("auth password longer than %d bytes", authLen)
	}
	if c.PreemptDelay < 0 || c.PreemptDelay > 1000*time.Second {
		add("preempt delay %v out of 0-1000s", c.PreemptDelay)
	}
	if c.InitialState != StateBackup && c.InitialState != StateMaster {
		add("initial state %v: must be MASTER or BACKUP", c.InitialState)
	}
	if len(c.VIPs) == 0 {
		add("no virtual address")
	}
	six := c.ipv6()
	if six && c.Version != 3 {
		add("IPv6 needs VRRPv3")
	}
	if len(c.VIPs) > 255 {
		add("too many virtual addresses (%d > 255)", len(c.VIPs))
	}
	for _, v := range c.VIPs {
		if !v.Prefix.IsValid() {
			add("virtual address %v is not valid", v.Prefix)
			continue
		}
		if v.Prefix.Addr().Is6() != six || v.Prefix.Addr().Is4In6() {
			add("virtual address %v: all addresses of an instance must be of one family", v.Prefix)
		}
		if v.Label != "" {
			if six {
				add("virtual address %v: labels are IPv4 only", v.Prefix)
			}
			if len(v.Label) > 15 || !strings.HasPrefix(v.Label, v.Device+":") {
				add("virtual address %v: label %q must start with %q and be at most 15 bytes", v.Prefix, v.Label, v.Device+":")
			}
		}
	}
	if c.SourceAddr.IsValid() && c.SourceAddr.Is6() != six {
		add("source address %v is not of the virtual addresses' family", c.SourceAddr)
	}
	for _, p := range c.UnicastPeers {
		if !p.IsValid() || p.Is6() != six {
			add("unicast peer %v is not of the virtual addresses' family", p)
		}
	}
	for _, t := range c.TrackInterfaces {
		if t.Name == "" {
			add("tracked interface without a name")
		}
		if t.Weight < -254 || t.Weight > 254 {
			add("tracked interface %s: weight %d out of -254..254", t.Name, t.Weight)
		}
	}
	for _, t := range c.TrackScripts {
		if _, ok := scripts[t.Name]; !ok {
			add("tracked script %q is not defined", t.Name)
		}
		if t.OverrideWeight && (t.Weight < -254 || t.Weight > 254) {
			add("tracked script %s: weight %d out of -254..254", t.Name, t.Weight)
		}
	}
	g := c.GARP
	if g.MasterDelay < 0 || g.MasterRefresh < 0 || g.Interval < 0 || g.MasterRepeat < 0 || g.MasterRefreshRepeat < 0 {
		add("negative GARP setting")
	}
	for _, argv := range [][]string{c.Notify.Master, c.Notify.Backup, c.Notify.Fault, c.Notify.Stop, c.Notify.Any} {
		if len(argv) > 0 && argv[0] == "" {
			add("notify command with an empty program name")
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("instance %q: %w", c.Name, err)
	}
	return nil
}

func (s *ScriptConfig) validate() error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	if len(s.Command) == 0 || s.Command[0] == "" {
		errs = append(errs, errors.New("command is empty"))
	}
	if s.Interval < 0 || s.Timeout < 0 || s.Rise < 0 || s.Fall < 0 {
		errs = append(errs, errors.New("negative interval, timeout, rise or fall"))
	}
	if s.Weight < -254 || s.Weight > 254 {
		errs = append(errs, fmt.Errorf("weight %d out of -254..254", s.Weight))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("script %q: %w", s.Name, err)
	}
	return nil
}

// validateAll checks a whole set of instances, scripts and groups and
// returns them with defaults applied.
func validateAll(insts []Config, scripts []ScriptConfig, groups []SyncGroupConfig) ([]Config, map[string]ScriptConfig, error) {
	var errs []error
	sc := make(map[string]ScriptConfig, len(scripts))
	for _, s := range scripts {
		s = s.withDefaults()
		if err := s.validate(); err != nil {
			errs = append(errs, err)
		}
		if _, dup := sc[s.Name]; dup {
			errs = append(errs, fmt.Errorf("script %q defined twice", s.Name))
		}
		sc[s.Name] = s
	}
	out := make([]Config, len(insts))
	names := map[string]bool{}
	type key struct {
		iface string
		vrid  uint8
		six   bool
	}
	keys := map[key]string{}
	for i, c := range insts {
		c = c.withDefaults()
		if err := c.validate(sc); err != nil {
			errs = append(errs, err)
		}
		if names[c.Name] {
			errs = append(errs, fmt.Errorf("instance %q defined twice", c.Name))
		}
		names[c.Name] = true
		k := key{c.Interface, c.VRID, c.ipv6()}
		if other, dup := keys[k]; dup {
			errs = append(errs, fmt.Errorf("instance %q: interface %s VRID %d already used by %q", c.Name, c.Interface, c.VRID, other))
		}
		keys[k] = c.Name
		out[i] = c
	}
	if len(insts) == 0 {
		errs = append(errs, errors.New("no VRRP instance"))
	}
	member := map[string]string{}
	for _, g := range groups {
		if g.Name == "" {
			errs = append(errs, errors.New("sync group without a name"))
		}
		for _, n := range g.Instances {
			if !names[n] {
				errs = append(errs, fmt.Errorf("sync group %q: unknown instance %q", g.Name, n))
			}
			if other, dup := member[n]; dup {
				errs = append(errs, fmt.Errorf("sync group %q: instance %q already in group %q", g.Name, n, other))
			}
			member[n] = g.Name
		}
	}
	return out, sc, errors.Join(errs...)
}
