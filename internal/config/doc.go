// Package config is the configuration model of lbd (lbd.yaml, type Director)
// and of lbrs (lbrs.yaml, type Agent).
//
// Files are decoded strictly: the YAML node tree is walked alongside the Go
// types (fields named by their `yaml` tags), so that every value keeps its
// line. Unknown keys, duplicate keys, wrong types, values out of range, bad
// addresses and contradictions are all reported, not just the first, as an
// Errors value whose lines read
//
//	FILE:LINE: PATH: message
//
// sorted by line. lbd.yaml's virtual_servers list is parsed and decoded an
// item at a time where the file's shape allows (stream.go), so that the
// tree of the whole file never exists. After decoding, defaults are applied (see docs/config.md
// for every key, its type, default and keepalived
// equivalent), so the daemons read effective values: a real server's port,
// weight and forwarding method are filled in from its virtual server. Check
// timing, which inherits virtual server -> real server -> check, is resolved
// by VirtualServer.EffectiveCheck.
//
// The types hold plain values (time.Duration, netip.Addr, netip.Prefix,
// strings, slices, pointers for optional parts); they carry no functions and
// no line information, so two loads of the same file compare equal with
// reflect.DeepEqual (go-cmp needs a Comparer for the netip types).
package config
