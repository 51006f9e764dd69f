package kaconf

import (
	"strings"

	"github.com/lvsd/lb/internal/runas"
	"github.com/lvsd/lb/vrrp"
)

// userWords reads keepalived's "username [:][groupname]" (script_user, a
// vrrp_script's or MISC_CHECK's user, the words after a notify command):
// "user", "user group", "user:group" or "user : group".
func userWords(words []string) (runas.Who, bool) {
	s := strings.Join(words, " ")
	s = strings.Replace(s, " : ", ":", 1)
	s = strings.Replace(s, ": ", ":", 1)
	s = strings.Replace(s, " :", ":", 1)
	user, group, _ := strings.Cut(strings.Replace(s, " ", ":", 1), ":")
	if user == "" || strings.ContainsAny(group, " :") {
		return runas.Who{}, false
	}
	return runas.Who{User: user, Group: group}, true
}

// user maps a "user USERNAME [GROUPNAME]" statement (script_user in
// global_defs, user in a vrrp_script or a MISC_CHECK).
func (m *mapper) user(n *Node) (runas.Who, bool) {
	if !m.leaf(n, 1, 3) {
		return runas.Who{}, false
	}
	w, ok := userWords(n.Args)
	if !ok {
		m.errorf(n.Pos, "%s: want a user name and an optional group name, got %q", n.Key, strings.Join(n.Args, " "))
		return w, false
	}
	return w, m.userExists(n, w)
}

// userExists reports, as an error, a user or group this machine does not
// know: keepalived would not run the script, and lbd check would refuse
// the converted file.
func (m *mapper) userExists(n *Node, w runas.Who) bool {
	if _, err := runas.Lookup(w); err != nil {
		m.errorf(n.Pos, "%s: %v (keepalived does not run a script whose user does not exist; convert on the director)", n.Key, err)
		return false
	}
	return true
}

// notifyUser sets the user of a block's notify commands from one
// command's words after the command, before that command is stored: lbd
// runs all the commands of one notify section as one user (notify.user),
// the first command's; a later command's different user is reported.
func (m *mapper) notifyUser(nt *vrrp.Notify, n *Node, words []string) {
	w := runas.Who{}
	if len(words) > 0 {
		var ok bool
		if w, ok = userWords(words); !ok {
			m.errorf(n.Pos, "%s: want a user name and an optional group name after the command, got %q", n.Key, strings.Join(words, " "))
			return
		}
		if !m.userExists(n, w) {
			return
		}
	}
	first := nt.Master == nil && nt.Backup == nil && nt.Fault == nil && nt.Stop == nil && nt.Any == nil
	if first {
		nt.User, nt.Group = w.User, w.Group
		return
	}
	if w != nt.Who() {
		m.unmappedWord(n, n.Key, "runs as %s while the block's first notify command runs as %s: "+
			"lbd runs one user per notify section (notify.user)", orDefault(w.String()), orDefault(nt.Who().String()))
	}
}

func orDefault(s string) string {
	if s == "" {
		return "script_user"
	}
	return s
}
