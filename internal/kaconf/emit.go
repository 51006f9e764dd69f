package kaconf

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/lvsd/lb/vrrp"

	"gopkg.in/yaml.v3"

	"github.com/lvsd/lb/internal/config"
)

// emit writes the mapped configuration as lbd.yaml: a header comment, then
// the sections in the order of config.Director. Entries carry a comment
// naming the keepalived statement they come from.
func emit(m *mapper, source string) ([]byte, error) {
	d := &m.d
	root := newMap()
	root.addIf("global", globalNode(m))
	root.addIf("ipvs", ipvsNode(m))

	vrrp := newMap()
	if len(d.VRRP.Instances) > 0 {
		ins := newMap()
		for i := range d.VRRP.Instances {
			in := &d.VRRP.Instances[i]
			ins.add(in.Name, instanceNode(in)).HeadComment = "from " + oneLine(m.sources.instances[in.Name].String())
		}
		vrrp.add("instances", ins.Node)
	}
	if len(d.VRRP.Scripts) > 0 {
		ss := newMap()
		for _, s := range d.VRRP.Scripts {
			n := newMap()
			n.add("command", argv(s.Command))
			n.add("interval", dur(s.Interval))
			if s.Timeout > 0 {
				n.add("timeout", dur(s.Timeout))
			}
			if s.Rise != 1 {
				n.add("rise", num(s.Rise))
			}
			if s.Fall != 1 {
				n.add("fall", num(s.Fall))
			}
			n.add("weight", num(s.Weight))
			addUser(n, s.User, s.Group)
			ss.add(s.Name, n.Node).HeadComment = "from " + oneLine(m.sources.scripts[s.Name].String())
		}
		vrrp.add("scripts", ss.Node)
	}
	trackedObjectsNodes(vrrp, m)
	if len(d.VRRP.SyncGroups) > 0 {
		gs := newMap()
		for _, sg := range d.VRRP.SyncGroups {
			n := newMap()
			names := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, in := range sg.Instances {
				names.Content = append(names.Content, str(in))
			}
			n.add("instances", names)
			n.addIf("notify", notifyNode(sg.Notify))
			if sg.SMTPAlert != nil {
				n.add("smtp_alert", boolean(*sg.SMTPAlert))
			}
			gs.add(sg.Name, n.Node).HeadComment = "from " + oneLine(m.sources.groups[sg.Name].String())
		}
		vrrp.add("sync_groups", gs.Node)
	}
	emitStatic(vrrp, &d.VRRP)
	root.addIf("vrrp", vrrp)
	root.addIf("notify", notifySectionNode(&d.Notify))

	var buf bytes.Buffer
	writeHeader(&buf, m, source)
	if len(root.Content) > 0 || len(d.VirtualServers) == 0 {
		if err := encode(&buf, root); err != nil {
			return nil, err
		}
	}
	if err := encodeServices(&buf, m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encodeServices writes the virtual_servers key, the last of the file, one
// service at a time: yaml.v3's encoder keeps every event of a document, so
// 20,000 services in one document took 880 MB.
func encodeServices(buf *bytes.Buffer, m *mapper) error {
	if len(m.d.VirtualServers) == 0 {
		return nil
	}
	buf.WriteString("virtual_servers:\n")
	var one bytes.Buffer
	for i := range m.d.VirtualServers {
		n := serviceNode(&m.d.VirtualServers[i], m.sources.reals[i])
		n.HeadComment = "from " + oneLine(m.sources.services[i].String())
		if g := m.sources.serviceGroup[i]; g != "" {
			n.HeadComment += ", " + oneLine(g)
		}
		one.Reset()
		if err := encode(&one, ynode{&yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}}}); err != nil {
			return err
		}
		for line := range strings.Lines(one.String()) {
			if line != "\n" {
				buf.WriteString("  ")
			}
			buf.WriteString(line)
		}
	}
	return nil
}

// encode writes root as YAML ("{}" when empty), indented by two.
func encode(buf *bytes.Buffer, root ynode) error {
	if len(root.Content) == 0 {
		buf.WriteString("{}\n")
		return nil
	}
	enc := yaml.NewEncoder(buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root.Node}}); err != nil {
		return err
	}
	return enc.Close()
}

// globalNode is the global section.
func globalNode(m *mapper) ynode {
	gl := &m.d.Global
	g := newMap()
	if gl.RouterID != "" {
		g.add("router_id", str(gl.RouterID))
	}
	if gl.ScriptUser != "" {
		g.add("script_user", quotedIfNeeded(gl.ScriptUser)).LineComment = "keepalived script_user"
		if gl.ScriptGroup != "" {
			g.add("script_group", quotedIfNeeded(gl.ScriptGroup))
		}
	}
	if gl.EnableScriptSecurity {
		g.add("enable_script_security", boolean(true))
	}
	if gl.PurgeUnmanaged {
		g.add("purge_unmanaged", boolean(true)).LineComment = "keepalived lvs_flush"
	}
	if gl.FlushOnStop {
		k := g.add("flush_on_stop", boolean(true))
		if m.flush {
			k.LineComment = "keepalived lvs_flush_on_stop"
		} else {
			k.HeadComment = "keepalived removes its IPVS services when it stops; so does lbd with this\n" +
				"(delete the line to keep the table, and the traffic, across lbd restarts)"
		}
	}
	return g
}

// ipvsNode is the ipvs section: timeouts and the sync daemon.
func ipvsNode(m *mapper) ynode {
	d := &m.d
	ipvs := newMap()
	t := newMap()
	for _, e := range []struct {
		key string
		d   time.Duration
	}{{"tcp", d.IPVS.Timeouts.TCP}, {"tcpfin", d.IPVS.Timeouts.TCPFin}, {"udp", d.IPVS.Timeouts.UDP}} {
		if e.d > 0 {
			t.add(e.key, dur(e.d))
		}
	}
	if len(t.Content) > 0 {
		ipvs.add("timeouts", t.Node).LineComment = "keepalived lvs_timeouts"
	}
	if s := d.IPVS.SyncDaemon; s != nil {
		sd := newMap()
		sd.add("interface", str(s.Interface))
		sd.add("sync_id", num(s.SyncID))
		sd.add("role", str(string(s.Role)))
		sd.add("instance", str(s.Instance))
		ipvs.add("sync_daemon", sd.Node).HeadComment = "from " + oneLine(m.sources.syncd.String()) + " " + "(master while the instance is MASTER, backup otherwise)"
	}
	return ipvs
}

func writeHeader(buf *bytes.Buffer, m *mapper, source string) {
	fmt.Fprintf(buf, "# lbd.yaml imported from %s by \"lbctl import-keepalived\".\n", oneLine(source))
	buf.WriteString("# Where keepalived's defaults differ from lbd's, keepalived's values are\n")
	buf.WriteString("# written out, so this file behaves as the keepalived configuration did.\n")
	buf.WriteString("# Check it with \"lbd check -c FILE\"; keys are described in\n")
	buf.WriteString("# docs/config.md.\n#\n")
	if len(m.issues) == 0 {
		buf.WriteString("# Every keepalived keyword was imported.\n")
	} else {
		fmt.Fprintf(buf, "# Not imported (%d):\n", len(m.issues))
		for _, i := range m.issues {
			fmt.Fprintf(buf, "# unmapped: %s: %s: %s\n", oneLine(i.Pos.String()), oneLine(i.Keyword), oneLine(i.Reason))
		}
	}
	if len(m.notes) > 0 {
		fmt.Fprintf(buf, "#\n# Notes (%d):\n", len(m.notes))
		for _, n := range m.notes {
			fmt.Fprintf(buf, "# note: %s: %s\n", oneLine(n.Pos.String()), oneLine(n.Msg))
		}
	}
	buf.WriteString("\n")
}

// oneLine makes text safe in a comment line: characters that are not
// graphic (line breaks, control characters) are escaped as \uXXXX.
func oneLine(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsGraphic(r) {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.String()
}

func instanceNode(in *vrrp.Config) *yaml.Node {
	n := newMap()
	n.add("state", str(string(in.InitialState)))
	n.add("interface", str(in.Interface))
	n.add("virtual_router_id", num(in.VRID))
	n.add("version", num(in.Version))
	n.add("priority", num(in.Priority))
	n.add("advert_interval", dur(in.AdvertInterval))
	if in.NoPreempt {
		n.add("nopreempt", boolean(true))
	}
	if in.PreemptDelay > 0 {
		n.add("preempt_delay", dur(in.PreemptDelay))
	}
	if a := in.Authentication; a != nil {
		an := newMap()
		an.add("type", str(string(a.Type)))
		an.add("password", quoted(a.Password))
		n.add("authentication", an.Node)
	}
	addUnicast(n, in)
	n.add("virtual_ipaddresses", vipList(in.VIPs))
	emitHeld(n, in)
	if len(in.TrackInterfaces) > 0 {
		l := &yaml.Node{Kind: yaml.SequenceNode}
		for _, t := range in.TrackInterfaces {
			e := newMap()
			e.add("name", str(t.Name))
			e.add("weight", num(t.Weight))
			if t.Reverse {
				e.add("reverse", boolean(true))
			}
			l.Content = append(l.Content, e.Node)
		}
		n.add("track_interfaces", l)
	}
	if len(in.TrackScripts) > 0 {
		l := &yaml.Node{Kind: yaml.SequenceNode}
		for _, t := range in.TrackScripts {
			e := newMap()
			e.add("name", str(t.Name))
			if t.Weight != nil {
				e.add("weight", num(*t.Weight))
			}
			l.Content = append(l.Content, e.Node)
		}
		n.add("track_scripts", l)
	}
	trackRefNodes(n, in)
	n.addIf("notify", notifyNode(in.Notify))
	gn := newMap()
	g := in.GARP
	if g.MasterDelay != vrrp.DefaultGARPMasterDelay {
		gn.add("master_delay", dur(g.MasterDelay))
	}
	if g.MasterRepeat != vrrp.DefaultGARPRepeat {
		gn.add("master_repeat", num(g.MasterRepeat))
	}
	if g.MasterRefresh > 0 {
		gn.add("master_refresh", dur(g.MasterRefresh))
	}
	if g.MasterRefreshRepeat != vrrp.DefaultGARPRefreshRep {
		gn.add("master_refresh_repeat", num(g.MasterRefreshRepeat))
	}
	if g.Interval > 0 {
		gn.add("interval", dur(g.Interval))
	}
	n.addIf("garp", gn)
	if in.SkipCheckAdvAddr {
		n.add("skip_check_adv_addr", boolean(true))
	}
	if in.DontTrackPrimary {
		n.add("dont_track_primary", boolean(true))
	}
	if in.SMTPAlert != nil {
		n.add("smtp_alert", boolean(*in.SMTPAlert))
	}
	addVMAC(n, in)
	return n.Node
}

// addUnicast writes an instance's source address and unicast settings.
func addUnicast(n ynode, in *vrrp.Config) {
	if in.SourceAddr.IsValid() {
		n.add("source_address", str(in.SourceAddr.String()))
	}
	if len(in.UnicastPeers) > 0 {
		l := &yaml.Node{Kind: yaml.SequenceNode}
		for _, p := range in.UnicastPeers {
			l.Content = append(l.Content, str(p.String()))
		}
		n.add("unicast_peers", l)
	}
	if in.CheckUnicastSrc != nil && !*in.CheckUnicastSrc {
		n.add("check_unicast_src", boolean(false))
	}
	if in.UnicastMinTTL != 0 {
		n.add("unicast_min_ttl", num(in.UnicastMinTTL))
	}
	if in.UnicastMaxTTL != 0 {
		n.add("unicast_max_ttl", num(in.UnicastMaxTTL))
	}
	if len(in.UnicastPeerTTLs) > 0 {
		l := &yaml.Node{Kind: yaml.SequenceNode}
		for _, t := range in.UnicastPeerTTLs {
			e := newMap()
			e.add("address", str(t.Address.String()))
			if t.MinTTL != 0 {
				e.add("min_ttl", num(t.MinTTL))
			}
			if t.MaxTTL != 0 {
				e.add("max_ttl", num(t.MaxTTL))
			}
			l.Content = append(l.Content, e.Node)
		}
		n.add("unicast_peer_ttls", l)
	}
}

func notifyNode(nt vrrp.Notify) ynode {
	n := newMap()
	for _, e := range []struct {
		key string
		cmd []string
	}{{"master", nt.Master}, {"backup", nt.Backup}, {"fault", nt.Fault}, {"stop", nt.Stop}, {"any", nt.Any}} {
		if e.cmd != nil {
			n.add(e.key, argv(e.cmd))
		}
	}
	addUser(n, nt.User, nt.Group)
	return n
}

// addUser writes a command's user and group, if set.
func addUser(n ynode, user, group string) {
	if user != "" {
		n.add("user", quotedIfNeeded(user))
	}
	if group != "" {
		n.add("group", quotedIfNeeded(group))
	}
}

func serviceNode(vs *config.VirtualServer, reals []Pos) *yaml.Node {
	n := newMap()
	if vs.FWMark > 0 {
		n.add("fwmark", num(int(vs.FWMark)))
		n.add("family", str(string(vs.Family)))
	} else {
		n.add("address", str(vs.Address.String()))
		n.add("port", num(int(vs.Port)))
		n.add("protocol", str(string(vs.Protocol)))
	}
	n.add("scheduler", str(string(vs.Scheduler)))
	if len(vs.SchedulerFlags) > 0 {
		l := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, f := range vs.SchedulerFlags {
			l.Content = append(l.Content, str(string(f)))
		}
		n.add("scheduler_flags", l)
	}
	if vs.PersistenceTimeout > 0 {
		n.add("persistence_timeout", dur(vs.PersistenceTimeout))
		if vs.PersistenceNetmask != 0 {
			n.add("persistence_netmask", num(int(vs.PersistenceNetmask)))
		}
	}
	if vs.OnePacket {
		n.add("one_packet", boolean(true))
	}
	n.add("forwarding", str(string(vs.Forwarding)))
	if vs.Quorum != 1 {
		n.add("quorum", num(vs.Quorum))
	}
	if vs.Hysteresis > 0 {
		n.add("hysteresis", num(vs.Hysteresis))
	}
	if vs.QuorumUp != nil {
		n.add("quorum_up", argv(vs.QuorumUp))
	}
	if vs.QuorumDown != nil {
		n.add("quorum_down", argv(vs.QuorumDown))
	}
	if vs.Omega {
		n.add("omega", boolean(true))
	}
	if vs.InhibitOnFailure {
		n.add("inhibit_on_failure", boolean(true))
	}
	if s := vs.SorryServer; s != nil {
		sn := newMap()
		sn.add("address", str(s.Address.String()))
		sn.add("port", num(int(s.Port)))
		if s.Forwarding != "" {
			sn.add("forwarding", str(string(s.Forwarding)))
		}
		if s.Inhibit {
			sn.add("inhibit", boolean(true))
		}
		n.add("sorry_server", sn.Node)
	}
	timingNode(n, &vs.Timing)
	l := &yaml.Node{Kind: yaml.SequenceNode}
	for i := range vs.RealServers {
		rn := realNode(vs, &vs.RealServers[i])
		rn.HeadComment = "from " + oneLine(reals[i].String())
		l.Content = append(l.Content, rn)
	}
	n.add("real_servers", l)
	return n.Node
}

func realNode(vs *config.VirtualServer, rs *config.RealServer) *yaml.Node {
	n := newMap()
	n.add("address", str(rs.Address.String()))
	if rs.Port != 0 || vs.FWMark == 0 {
		n.add("port", num(int(rs.Port)))
	}
	n.add("weight", num(rs.Weight))
	if rs.Forwarding != "" {
		n.add("forwarding", str(string(rs.Forwarding)))
	}
	if t := rs.Tunnel; t != nil {
		tn := newMap()
		tn.add("type", str(string(t.Type)))
		if t.Port != 0 {
			tn.add("port", num(int(t.Port)))
		}
		tn.add("checksum", str(string(t.Checksum)))
		n.add("tunnel", tn.Node)
	}
	if rs.UpperThreshold > 0 {
		n.add("upper_threshold", num(rs.UpperThreshold))
	}
	if rs.LowerThreshold > 0 {
		n.add("lower_threshold", num(rs.LowerThreshold))
	}
	if rs.InhibitOnFailure != vs.InhibitOnFailure {
		n.add("inhibit_on_failure", boolean(rs.InhibitOnFailure))
	}
	if rs.NotifyUp != nil {
		n.add("notify_up", argv(rs.NotifyUp))
	}
	if rs.NotifyDown != nil {
		n.add("notify_down", argv(rs.NotifyDown))
	}
	timingNode(n, &rs.Timing)
	if len(rs.Checks) > 0 {
		l := &yaml.Node{Kind: yaml.SequenceNode}
		for i := range rs.Checks {
			l.Content = append(l.Content, checkNode(&rs.Checks[i]))
		}
		n.add("checks", l)
	}
	return n.Node
}

func checkNode(c *config.Check) *yaml.Node {
	n := newMap()
	n.add("type", str(string(c.Type)))
	if c.ConnectIP.IsValid() {
		n.add("connect_ip", str(c.ConnectIP.String()))
	}
	if c.ConnectPort != 0 {
		n.add("connect_port", num(int(c.ConnectPort)))
	}
	if c.BindTo.IsValid() {
		n.add("bindto", str(c.BindTo.String()))
	}
	if len(c.URLs) > 0 {
		l := &yaml.Node{Kind: yaml.SequenceNode}
		for _, u := range c.URLs {
			un := newMap()
			un.add("path", quotedIfNeeded(u.Path))
			if u.Digest != "" {
				un.add("digest", str(u.Digest))
			}
			if len(u.StatusCodes) > 0 {
				codes := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
				for _, r := range u.StatusCodes {
					if r.Lo == r.Hi {
						codes.Content = append(codes.Content, num(r.Lo))
					} else {
						codes.Content = append(codes.Content, quoted(fmt.Sprintf("%d-%d", r.Lo, r.Hi)))
					}
				}
				un.add("status_codes", codes)
			}
			l.Content = append(l.Content, un.Node)
		}
		n.add("urls", l)
	}
	if c.VirtualHost != "" {
		n.add("virtualhost", str(c.VirtualHost))
	}
	if c.SNI != "" {
		n.add("sni", str(c.SNI))
	}
	if c.Command != nil {
		n.add("command", argv(c.Command))
	}
	if c.Dynamic {
		n.add("dynamic", boolean(true))
	}
	addUser(n, c.User, c.Group)
	if c.QueryType != "" {
		n.add("query_type", str(string(c.QueryType)))
	}
	if c.QueryName != "" {
		n.add("query_name", str(c.QueryName))
	}
	udpSMTPNode(n, c)
	timingNode(n, &c.Timing)
	return n.Node
}

// udpSMTPNode adds the keys of udp and smtp checks that are set.
func udpSMTPNode(n ynode, c *config.Check) {
	if c.Payload != "" {
		n.add("payload", quoted(c.Payload))
	}
	if c.RequireReply {
		n.add("require_reply", boolean(true))
	}
	if c.Reply != "" {
		n.add("reply", quoted(c.Reply))
	}
	if c.MinReplyLength != nil {
		n.add("min_reply_length", num(*c.MinReplyLength))
	}
	if c.MaxReplyLength != nil {
		n.add("max_reply_length", num(*c.MaxReplyLength))
	}
	if c.HeloName != "" {
		n.add("helo_name", str(c.HeloName))
	}
}

// timingNode adds the timing keys that are set.
func timingNode(n ynode, t *config.Timing) {
	if t.DelayLoop != nil {
		n.add("delay_loop", dur(*t.DelayLoop))
	}
	if t.ConnectTimeout != nil {
		n.add("connect_timeout", dur(*t.ConnectTimeout))
	}
	if t.Retry != nil {
		n.add("retry", num(*t.Retry))
	}
	if t.DelayBeforeRetry != nil {
		n.add("delay_before_retry", dur(*t.DelayBeforeRetry))
	}
	if t.Warmup != nil {
		n.add("warmup", dur(*t.Warmup))
	}
	if t.Alpha != nil {
		n.add("alpha", boolean(*t.Alpha))
	}
	if t.Rise != nil {
		n.add("rise", num(*t.Rise))
	}
	if t.Fall != nil {
		n.add("fall", num(*t.Fall))
	}
}

// ynode is a YAML mapping being built.
type ynode struct{ *yaml.Node }

func newMap() ynode { return ynode{&yaml.Node{Kind: yaml.MappingNode}} }

// add appends key: v and returns the key node (for comments).
func (n ynode) add(key string, v *yaml.Node) *yaml.Node {
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
	n.Content = append(n.Content, k, v)
	return k
}

// addIf adds a mapping only when it has content.
func (n ynode) addIf(key string, v ynode) {
	if len(v.Content) > 0 {
		n.add(key, v.Node)
	}
}

// str is a string scalar; yaml.v3 quotes what YAML 1.2 would read as
// something else, and the words YAML 1.1 readers take for booleans are
// quoted too.
func str(s string) *yaml.Node {
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "on", "off":
		return quoted(s)
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// quoted is a string always written in double quotes (passwords, labels:
// "1111" and "eth0:0" stay strings for any reader).
func quoted(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle}
}

// quotedIfNeeded quotes strings that YAML 1.1 readers could take for
// something else.
func quotedIfNeeded(s string) *yaml.Node {
	if strings.ContainsAny(s, ":#{}[],&*!|>'\"%@`") {
		return quoted(s)
	}
	return str(s)
}

func num(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}
}

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func dur(d time.Duration) *yaml.Node { return str(formatDuration(d)) }

// argv writes a command as a flow list of quoted strings.
func argv(a []string) *yaml.Node {
	l := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, s := range a {
		l.Content = append(l.Content, quoted(s))
	}
	return l
}
