package director

import "github.com/lvsd/lb/director/table"

// Settings are the kernel-wide settings lbd applies besides the table.
type Settings struct {
	// Timeouts to set; a zero field leaves the kernel's value.
	Timeouts table.Timeouts
	// Sysctls to set, in order.
	Sysctls []SysctlSetting
}

// SysctlSetting is one sysctl and its wanted value.
type SysctlSetting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}
