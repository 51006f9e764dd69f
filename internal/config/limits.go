package config

import (
	"fmt"
	"unicode/utf8"
)

// Limits of what one configuration file may cost (docs/config.md, "Limits").
const (
	// MaxDirectorFileSize bounds lbd.yaml: 8 MiB holds twice what
	// "lbctl import-keepalived" writes for 1,000 services x 10 real servers
	// with a check each (3.1 MB; 1.7 MB written by hand). What parsing
	// costs is bounded by maxSeparators.
	MaxDirectorFileSize = 8 << 20
	// MaxAgentFileSize bounds lbrs.yaml, a list of VIPs and a few keys.
	MaxAgentFileSize = 1 << 20
	// MaxErrors is how many errors of one file are kept; the rest are
	// counted in a last line.
	MaxErrors = 100
	// MaxAliasValues bounds the values decoded through YAML aliases (*name),
	// each time an alias is used: the file's own values are bounded by its
	// size, this bounds what aliases multiply them into.
	MaxAliasValues = 100_000
	// maxErrorsFound stops decoding and validating: a file with this many
	// errors is not the file meant (a wrong file, an alias bomb).
	maxErrorsFound = 1000
	// maxSeparators bounds the values of one file before it is parsed
	// (see separators): the YAML parser's tree costs about 200 bytes a
	// value. The benchmarks' 1.7 MB file has 181,000.
	maxSeparators = 600_000
	// maxMessage and maxPath bound one error line (the message quotes
	// values, the path names keys, both from the file).
	maxMessage = 400
	maxPath    = 200
)

// Clip shortens s to at most n bytes (cut at a character boundary), saying
// how long it was: error lines quote values from the file, which may be
// megabytes long.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", s[:cut], len(s))
}
