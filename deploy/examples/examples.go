// Package examples embeds the shipped example configurations, so that tests
// (including the real-kernel testbed, whose VM has no source tree) run the
// very files operators copy.
package examples

import "embed"

// Files holds deploy/examples/*.yaml and *.conf (the upstream router's
// bird2 configuration for the ECMP example).
//
//go:embed *.yaml *.conf
var Files embed.FS
