package doctor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// AppendText appends the human-readable report.
func (r *Report) AppendText(b []byte) []byte {
	for _, f := range r.Findings {
		b = fmt.Appendf(b, "%s %s", strings.ToUpper(string(f.Severity)), f.Check)
		if len(f.Seed) > 0 {
			ns := make([]string, len(f.Seed))
			for i, n := range f.Seed {
				ns[i] = strconv.Itoa(n)
			}
			word := "problem"
			if len(ns) > 1 {
				word = "problems"
			}
			b = fmt.Appendf(b, " (seed %s %s)", word, strings.Join(ns, ", "))
		}
		b = append(b, '\n')
		b = fmt.Appendf(b, "  %s\n  Evidence:\n", f.Summary)
		for _, e := range f.Evidence {
			b = fmt.Appendf(b, "    - %s\n", e)
		}
		b = append(b, "  Fix:\n"...)
		for _, l := range strings.Split(f.Fix, "\n") {
			b = fmt.Appendf(b, "    %s\n", l)
		}
		b = append(b, '\n')
	}
	if len(r.Findings) == 0 {
		b = append(b, "No problems found.\n"...)
	}
	return fmt.Appendf(b, "%d error(s), %d warning(s), %d info\n", r.Errors, r.Warnings, r.Infos)
}

// AppendJSON appends the report as indented JSON.
func (r *Report) AppendJSON(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // evidence quotes "! -s <cluster CIDR>" verbatim
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return append(b, buf.Bytes()...), nil
}
