package main

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/lvsd/lb/internal/config"
)

// TestCheckAgreesWithApply: "lbrs check" (config.ParseAgent) refuses
// exactly the VIPs and interface names that "lbrs run" (Spec.Validate)
// refuses, so a file that checks is one that applies (issue 12, defect 4).
func TestCheckAgreesWithApply(t *testing.T) {
	base, err := config.ParseAgent("t.yaml", []byte("vips: [192.0.2.1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	vips := []string{"192.0.2.1", "0.0.0.0", "127.0.0.1", "127.1.2.3", "224.0.0.18", "239.1.1.1", "255.255.255.255",
		"169.254.1.1", "10.0.0.255", "2001:db8::1", "::", "::1", "ff02::1", "fe80::1"}
	for _, v := range vips {
		_, checkErr := config.ParseAgent("t.yaml", []byte("vips: ["+strconv.Quote(v)+"]\n"))
		a := *base
		a.VIPs = []netip.Addr{netip.MustParseAddr(v)}
		_, applyErr := specFromConfig(&a)
		if (checkErr == nil) != (applyErr == nil) {
			t.Errorf("VIP %s: check says %v, apply says %v", v, checkErr, applyErr)
		}
	}
	// Not listed: "" (check refuses an explicit empty name, apply reads it
	// as the default).
	names := []string{"lo", "eth0", "tunl0", "../../../etc", ".", "..", "a/b", "eth 0", "eth\t0", "eth\n0", "lo:0",
		"eth0123456789012", "eth012345678901", "eth\v0", "eth\f0", "eth\r0", "eth\xa00"}
	for _, n := range names {
		_, checkErr := config.ParseAgent("t.yaml", []byte("vips: [192.0.2.1]\nlabel_prefix: \"\"\ninterface: "+strconv.Quote(n)+"\n"))
		a := *base
		a.Interface, a.Interface6, a.LabelPrefix = n, n, ""
		_, applyErr := specFromConfig(&a)
		if (checkErr == nil) != (applyErr == nil) {
			t.Errorf("interface %q: check says %v, apply says %v", n, checkErr, applyErr)
		}
	}
}
