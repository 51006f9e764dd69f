// Package kaconf converts a keepalived configuration (keepalived.conf(5))
// into lbd.yaml (the model of package config), for "lbctl
// import-keepalived".
//
// The conversion has three steps:
//
//   - lex.go reads the file the way keepalived does: one statement per line,
//     "#" and "!" start a comment anywhere outside double quotes, "{" and "}"
//     open and close blocks wherever they appear (on the keyword's line, on
//     the next line, several on one line), double-quoted words keep their
//     spaces, and "include" splices in other files (glob patterns, relative
//     to the including file). The result is a tree of Nodes that remember
//     their file and line. Structural mistakes (a missing or extra brace, an
//     unterminated quote, an include loop) are errors. keepalived's
//     preprocessor runs first on each line (preproc.go, loop.go): @ID and
//     @^ID lines for Options.ConfigID, $NAME=VALUE parameters (multi-line
//     too) and their substitution, ~SEQ/~SEQx/~LST repetitions.
//   - global.go, vrrp.go, lvs.go (vsgroup.go: a virtual_server_group
//     becomes one virtual server per member) and check.go map the tree onto
//     config.Director. Where keepalived's default differs from lbd's (the
//     forwarding method, a missing protocol, a priority derived from the
//     state, checker retry counts, delays and warm-up) the keepalived value
//     is written out, so the imported file behaves as keepalived did. A
//     keyword that has no lbd equivalent, or that keepalived itself does not
//     accept (such as a misspelt one), is never dropped silently: it becomes
//     an Issue naming its file and line. Corrections keepalived applies
//     itself (clearing nopreempt on an initial MASTER, rounding a VRRPv2
//     advert interval...) are applied too and become Notes.
//   - emit.go writes the YAML, headed by a comment that names the source and
//     lists every Issue and Note; the result is checked with
//     config.ParseDirector before it is returned.
//
// Errors (malformed input, a value that is not a number or an address) stop
// the conversion; Issues and Notes do not. docs/keepalived-mapping.md
// lists what maps to what.
package kaconf
