package manpage

import (
	"fmt"
	"strings"
)

// ConfigPage writes the man page of a configuration file (lbd.yaml(5),
// lbrs.yaml(5)) from the configuration reference: NAME, DESCRIPTION, the
// reference's "How files are read", the file's own section ("## NAME")
// and extra (roff: FILES, SEE ALSO). It fails when a section is missing.
func ConfigPage(page Page, summary, reference, extra string) (string, error) {
	common, ok := Section(reference, "## How files are read")
	if !ok {
		return "", fmt.Errorf("the configuration reference has no \"## How files are read\"")
	}
	own, ok := Section(reference, "## "+page.Name)
	if !ok {
		return "", fmt.Errorf("the configuration reference has no \"## %s\"", page.Name)
	}
	var b strings.Builder
	page.header(&b)
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", escape(page.Name), escape(summary))
	b.WriteString(".SH DESCRIPTION\n")
	b.WriteString(strings.TrimPrefix(Markdown(own), ".PP\n"))
	b.WriteString(".SH HOW FILES ARE READ\n")
	b.WriteString(Markdown(common))
	b.WriteString(extra)
	return b.String(), nil
}
