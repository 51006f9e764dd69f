package kaconf

import (
	"fmt"

	"github.com/lvsd/lb/internal/config"
)

// Limits of one conversion (docs/config.md, "Limits").
const (
	// MaxFileSize bounds keepalived.conf and each file it includes.
	MaxFileSize = 4 << 20
	// maxTotalSize bounds all the files of one conversion together.
	maxTotalSize = 16 << 20
	// maxItems bounds the statements and braces read (about 15 for each
	// real server with a check: 150,000 for 1,000 services x 10).
	maxItems = 500_000
	// maxDepth bounds the nesting of blocks (keepalived's deepest is 4:
	// virtual_server, real_server, HTTP_GET, url).
	maxDepth = 32
	// MaxErrors is how many errors are shown; a last line counts the rest
	// (lbd.yaml's limit: one policy for every file the operator hands us).
	MaxErrors = config.MaxErrors
	// maxErrorsFound stops the conversion's checks: a file with this many
	// errors is not a keepalived configuration.
	maxErrorsFound = 1000
	// maxMessage bounds one error message (they quote the file's words).
	maxMessage = 400
)

// errorSet keeps the first maxErrorsFound errors and counts the others.
type errorSet struct {
	list Errors
	more int
}

func (s *errorSet) add(e *Error) {
	if len(s.list) >= maxErrorsFound {
		s.more++
		return
	}
	e.Msg = config.Clip(e.Msg, maxMessage)
	s.list = append(s.list, e)
}

func (s *errorSet) full() bool { return len(s.list) >= maxErrorsFound }

func (s *errorSet) addAll(o errorSet) {
	for _, e := range o.list {
		s.add(e)
	}
	s.more += o.more
}

// capped returns the first MaxErrors of errs (in reading order already)
// and, when there were more, a last error counting them.
func capped(file string, errs Errors, more int) Errors {
	if n := len(errs) - MaxErrors; n > 0 {
		more += n
		errs = errs[:MaxErrors]
	}
	if more > 0 {
		errs = append(errs, &Error{Pos: Pos{File: file}, Msg: fmt.Sprintf("%d more errors not shown (only the first %d are)", more, MaxErrors)})
	}
	return errs
}
