package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/lvsd/lb/healthcheck"
)

// genhash fetches a URL the way lbd's HTTP check does and prints, like
// keepalived --genhash, the status line, the headers and the MD5 of the
// body to paste into a check's urls[].digest.
func genhash(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, vhost, connectIP, verify, timeout := genhashFlags(stderr)
	// Flags may come before or after the URL.
	var url string
	for {
		if err := fs.Parse(args); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		if url != "" {
			fmt.Fprintf(stderr, "lbctl genhash: unexpected argument %q\n", fs.Arg(0))
			return 2
		}
		url, args = fs.Arg(0), fs.Args()[1:]
	}
	if url == "" {
		fs.Usage()
		return 2
	}
	opts := healthcheck.GenHashOptions{VirtualHost: *vhost, TLSVerify: *verify, Timeout: *timeout}
	if *connectIP != "" {
		a, err := netip.ParseAddr(*connectIP)
		if err != nil {
			fmt.Fprintf(stderr, "lbctl genhash: --connect-ip: %v\n", err)
			return 2
		}
		opts.ConnectIP = a
	}
	res, err := healthcheck.GenHash(ctx, url, opts)
	if err != nil {
		fmt.Fprintf(stderr, "lbctl genhash: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, res.StatusLine)
	for _, h := range res.Headers {
		fmt.Fprintf(stdout, "%s: %s\n", h.Name, h.Value)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "MD5SUM = %s\n", res.MD5)
	return 0
}

// genhashFlags defines the flags of "lbctl genhash" (also for its man page).
func genhashFlags(stderr io.Writer) (fs *flag.FlagSet, vhost, connectIP *string, verify *bool, timeout *time.Duration) {
	fs = flag.NewFlagSet("lbctl genhash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	vhost = fs.String("virtualhost", "", "Host header (and TLS server name)")
	connectIP = fs.String("connect-ip", "", "connect to this address instead of resolving the URL's host")
	verify = fs.Bool("verify", false, "verify the server certificate (https)")
	timeout = fs.Duration("timeout", 5*time.Second, "timeout of the whole fetch")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lbctl genhash URL [--virtualhost H] [--connect-ip IP] [--verify] [--timeout D]")
		fs.PrintDefaults()
	}
	return fs, vhost, connectIP, verify, timeout
}
