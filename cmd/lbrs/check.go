package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/lvsd/lb/director/config"
)

// runCheck validates lbrs.yaml: every problem on stderr, one per line
// (FILE:LINE: PATH: message), exit status 1; "FILE: OK" and 0 when valid.
func runCheck(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("lbrs check", flag.ContinueOnError)
	file := fs.String("c", defaultConfigPath, "configuration `file` to validate")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: lbrs check [-c FILE]\n\nValidate an agent configuration and exit.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, err := config.LoadAgent(*file)
	return reportCheck(*file, err)
}

// reportCheck prints the outcome of loading file.
func reportCheck(file string, err error) error {
	var errs config.Errors
	switch {
	case errors.As(err, &errs):
		for _, e := range errs {
			fmt.Fprintln(os.Stderr, e.Error())
		}
		return exitCode(1)
	case err != nil:
		return err
	}
	fmt.Printf("%s: OK\n", file)
	return nil
}
