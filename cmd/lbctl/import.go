package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lvsd/lb/cmd/internal/cli"
	"github.com/lvsd/lb/internal/kaconf"
)

const importUsage = `usage: lbctl import-keepalived [-o FILE] [--strict] [--config-id ID] KEEPALIVED.CONF

Converts a keepalived configuration (and the files it includes) into lbd.yaml.
Keywords that cannot be carried over are listed on stderr, one per line, as
  FILE:LINE: keyword "X" not mapped: reason
and in the header comment of the output, followed by notes on keepalived
defaults and corrections written out. The output passes "lbd check".

  -o FILE    write the YAML to FILE (mode 0600) instead of standard output
  --strict   exit with status 3 when a keyword is not mapped
  --config-id ID
             keep the conditional lines (@ID, @^OTHER) meant for ID, as
             keepalived -i ID does (default: this host's name up to its
             first dot, keepalived's default)

Exit status: 0 converted (even with unmapped keywords, unless --strict);
1 the file is malformed or cannot be read (errors as FILE:LINE: message);
2 usage; 3 unmapped keywords with --strict.
`

// importKeepalived runs "lbctl import-keepalived". SIGINT and SIGTERM
// (ctx) stop it at once.
func importKeepalived(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, out, strict, configID := importFlags(stderr, defaultConfigID())
	// Flags may come before or after the file name.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		fmt.Fprint(stderr, importUsage)
		return 2
	}

	var res *kaconf.Result
	err := cli.Interruptible(ctx, func() error {
		var err error
		res, err = kaconf.ConvertFile(files[0], &kaconf.Options{ConfigID: *configID})
		return err
	})
	if errors.Is(err, cli.ErrInterrupted) {
		fmt.Fprintf(stderr, "lbctl import-keepalived: %v\n", err)
		return cli.ExitInterrupted
	}
	if err != nil {
		var errs kaconf.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
			}
		} else {
			fmt.Fprintf(stderr, "lbctl import-keepalived: %v\n", err)
		}
		return 1
	}
	printCapped(stderr, res.Unmapped, "keywords not mapped")
	printCapped(stderr, res.Notes, "notes")

	if *out == "" {
		if _, err := stdout.Write(res.YAML); err != nil {
			fmt.Fprintf(stderr, "lbctl import-keepalived: %v\n", err)
			return 1
		}
	} else if err := writeFileAtomic(*out, res.YAML); err != nil {
		fmt.Fprintf(stderr, "lbctl import-keepalived: %v\n", err)
		return 1
	}
	if *strict && len(res.Unmapped) > 0 {
		fmt.Fprintf(stderr, "lbctl import-keepalived: %d keyword(s) not mapped (--strict)\n", len(res.Unmapped))
		return 3
	}
	return 0
}

// defaultConfigID is keepalived's default config id: the host name up to
// its first dot ("" when it cannot be read).
func defaultConfigID() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	id, _, _ := strings.Cut(h, ".")
	return id
}

// printCapped prints the first kaconf.MaxErrors of list, one per line, and
// counts the others (all are in the output's header comment).
func printCapped[T fmt.Stringer](w io.Writer, list []T, what string) {
	for i, x := range list {
		if i == kaconf.MaxErrors {
			fmt.Fprintf(w, "lbctl import-keepalived: %d more %s not shown here (the output's header lists them all)\n", len(list)-i, what)
			return
		}
		fmt.Fprintln(w, x.String())
	}
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, so that a reader never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// importFlags defines the flags of "lbctl import-keepalived"; configID is
// the default of --config-id (the host name's first label; a placeholder
// for the man page).
func importFlags(stderr io.Writer, configID string) (fs *flag.FlagSet, out *string, strict *bool, id *string) {
	fs = flag.NewFlagSet("lbctl import-keepalived", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, importUsage) }
	out = fs.String("o", "", "output `file`")
	strict = fs.Bool("strict", false, "exit 3 when something is not mapped")
	id = fs.String("config-id", configID, "config `id` for conditional lines (keepalived -i)")
	return fs, out, strict, id
}
