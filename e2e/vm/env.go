package vm

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// OptionsFromEnv reads the testbed's environment variables into options,
// so "go test -tags testbed ./e2e" and e2e/cmd/testbed behave alike:
//
//	E2E_RUN      go test -run pattern for the guest tests (e.g. SeedDR,
//	             RoundTrip|Sysctl, ^TestScenarioSeedDR$/sub); default: all
//	E2E_PKGS     comma-separated guest packages to run (scenarios,
//	             director_kernel or ./director/kernel...); default: all
//	E2E_TIMEOUT  whole-VM timeout (Go duration), default 10m
//	E2E_SMP      guest vCPUs, default 1
//	E2E_MEM      guest RAM in MiB, default 1024
//	E2E_CMDS     comma-separated Go commands to include (e.g. ./cmd/lbd,./cmd/lbctl);
//	             unset: every main package under ./cmd; "none": none
//	E2E_GZIP     gzip level 1-9 for the initramfs; unset: plain cpio
//	E2E_CACHE    cache directory (see DefaultCacheDir)
func OptionsFromEnv() (BuildOptions, RunOptions, error) {
	var b BuildOptions
	var r RunOptions
	r.Run = os.Getenv("E2E_RUN")
	if v := os.Getenv("E2E_GZIP"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 9 {
			return b, r, fmt.Errorf("E2E_GZIP=%q: want a gzip level 1-9", v)
		}
		b.GzipLevel = n
	}
	if v := os.Getenv("E2E_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return b, r, fmt.Errorf("E2E_TIMEOUT=%q: want a positive Go duration such as 15m", v)
		}
		r.Timeout = d
	}
	for _, iv := range []struct {
		name string
		dst  *int
	}{{"E2E_SMP", &r.CPUs}, {"E2E_MEM", &r.MemoryMB}} {
		if v := os.Getenv(iv.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return b, r, fmt.Errorf("%s=%q: want a positive integer", iv.name, v)
			}
			*iv.dst = n
		}
	}
	for _, p := range strings.Split(os.Getenv("E2E_PKGS"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			r.Packages = append(r.Packages, p)
		}
	}
	switch v := strings.TrimSpace(os.Getenv("E2E_CMDS")); v {
	case "":
	case "none":
		b.Commands = []string{}
	default:
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" {
				b.Commands = append(b.Commands, c)
			}
		}
	}
	return b, r, nil
}
