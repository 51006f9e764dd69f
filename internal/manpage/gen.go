package manpage

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ReadSpec runs "BINARY __spec" and decodes the description it prints.
func ReadSpec(binary string) (Program, error) {
	out, err := exec.Command(binary, "__spec").Output()
	if err != nil {
		return Program{}, fmt.Errorf("reading the description of %s: %w", binary, err)
	}
	var p Program
	if err := json.Unmarshal(out, &p); err != nil {
		return Program{}, fmt.Errorf("decoding the description of %s: %w", binary, err)
	}
	return p, nil
}

// Files names what Generate writes, by file name: the five man pages and
// lbctl's completion.
var Files = []string{"lbd.8", "lbrs.8", "lbctl.8", "lbd.yaml.5", "lbrs.yaml.5", "lbctl.bash"}

// Generate writes Files into dir from the binaries in binDir (their
// __spec) and the configuration reference (docs/config.md's text). date
// (YYYY-MM-DD) and source ("lb 1.2.0") go into each page's header.
func Generate(dir, binDir, reference, date, source string) error {
	specs := map[string]Program{}
	for _, name := range []string{"lbd", "lbrs", "lbctl"} {
		p, err := ReadSpec(filepath.Join(binDir, name))
		if err != nil {
			return err
		}
		specs[name] = p
	}
	page := func(name, section string) Page { return Page{Name: name, Section: section, Date: date, Source: source} }
	out := map[string]string{
		"lbd.8":      CommandPage(page("lbd", "8"), specs["lbd"], lbdExtra),
		"lbrs.8":     CommandPage(page("lbrs", "8"), specs["lbrs"], lbrsExtra),
		"lbctl.8":    CommandPage(page("lbctl", "8"), specs["lbctl"], lbctlExtra),
		"lbctl.bash": Bash(specs["lbctl"]),
	}
	for _, c := range []struct{ name, summary, extra string }{
		{"lbd.yaml", "configuration of lbd, the load-balancer director", lbdYAMLExtra},
		{"lbrs.yaml", "configuration of lbrs, the load-balancer real-server agent", lbrsYAMLExtra},
	} {
		s, err := ConfigPage(page(c.name, "5"), c.summary, reference, c.extra)
		if err != nil {
			return err
		}
		out[c.name+".5"] = s
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, name := range Files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(out[name]), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

const (
	lbdExtra = `.SH FILES
.TP
.I /etc/lbd/lbd.yaml
The configuration (lbd.yaml(5)); examples in /usr/share/doc/lbd/examples and /etc/lbd.
.TP
.I /run/lbd/lbd.sock
The control socket lbctl(8) talks to.
.TP
.I /var/lib/lbd
State: the services lbd manages.
.SH SIGNALS
SIGHUP reloads the configuration; SIGTERM stops lbd, leaving the IPVS table in place unless
\fBflush_on_stop\fR is set.
.SH SEE ALSO
lbd.yaml(5), lbctl(8), lbrs(8), ipvsadm(8), keepalived(8)
`
	lbrsExtra = `.SH FILES
.TP
.I /etc/lbrs/lbrs.yaml
The configuration (lbrs.yaml(5)).
.TP
.I /var/lib/lbrs/state.json
What lbrs changed, to restore on stop.
.SH SEE ALSO
lbrs.yaml(5), lbd(8)
`
	lbctlExtra = `.SH FILES
.TP
.I /run/lbd/lbd.sock
lbd's control socket (\-s).
.SH SEE ALSO
lbd(8), lbd.yaml(5), ipvsadm(8)
`
	lbdYAMLExtra = `.SH FILES
.I /etc/lbd/lbd.yaml
.SH SEE ALSO
lbd(8), lbctl(8), keepalived.conf(5)
`
	lbrsYAMLExtra = `.SH FILES
.I /etc/lbrs/lbrs.yaml
.SH SEE ALSO
lbrs(8), lbd.yaml(5)
`
)
