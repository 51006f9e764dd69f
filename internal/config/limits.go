package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
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

// ReadFile reads a configuration file of at most limit bytes. It refuses,
// without blocking, anything but a regular file (a FIFO, a device such as
// /dev/zero, a directory) and a file larger than limit. The errors name the
// path.
func ReadFile(path string, limit int64) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer; it has no effect on a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("not a regular file (%s)", kindOf(st.Mode()))}
	}
	if st.Size() > limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: tooBig(limit)}
	}
	buf := bytes.NewBuffer(make([]byte, 0, st.Size()+512)) // one allocation
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	if int64(len(data)) > limit { // grew while read
		return nil, &fs.PathError{Op: "read", Path: path, Err: tooBig(limit)}
	}
	return data, nil
}

// ErrTooLarge is the error (inside a *fs.PathError) of a file over its
// size limit.
var ErrTooLarge = errors.New("file too large")

func tooBig(limit int64) error {
	return fmt.Errorf("%w: larger than %s, the limit of a configuration file", ErrTooLarge, sizeText(limit))
}

func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a plain file"
}

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
