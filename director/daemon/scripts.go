package daemon

import (
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/internal/runas"
)

// scriptPolicy is the global part of how configured commands run: the
// default user (script_user, script_group) and enable_script_security.
// Per-script users (vrrp scripts, notify sections, script checks) override
// the user where they are set.
func scriptPolicy(cfg *config.Director) runas.Policy {
	g := cfg.Global
	return runas.Policy{Default: runas.Who{User: g.ScriptUser, Group: g.ScriptGroup}, Secure: g.EnableScriptSecurity}
}
