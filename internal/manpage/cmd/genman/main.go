// Command genman writes the man pages and lbctl's bash completion
// (internal/manpage) from the built binaries and docs/config.md:
//
//	go build -o bin/ ./cmd/... && go run ./internal/manpage/cmd/genman -bin bin -o build/man
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/lvsd/lb/internal/buildinfo"
	"github.com/lvsd/lb/internal/manpage"
)

func main() {
	bin := flag.String("bin", "bin", "`directory` holding lbd, lbrs and lbctl")
	out := flag.String("o", "build/man", "output `directory`")
	ref := flag.String("ref", "docs/config.md", "the configuration reference")
	date := flag.String("date", time.Now().UTC().Format("2006-01-02"), "the pages' date (YYYY-MM-DD)")
	version := flag.String("version", buildinfo.Read().Version, "the version in the pages' header")
	flag.Parse()
	md, err := os.ReadFile(*ref)
	if err == nil {
		err = manpage.Generate(*out, *bin, string(md), *date, "lb "+*version)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genman:", err)
		os.Exit(1)
	}
}
