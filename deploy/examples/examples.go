// Package examples embeds the shipped example configurations, so that tests
// (including the real-kernel testbed, whose VM has no source tree) run the
// very files operators copy.
package examples

import "embed"

// Files holds deploy/examples/*.yaml.
//
//go:embed *.yaml
var Files embed.FS
