package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
)

// Report is what a scenario hands back: markdown sections for people and a
// raw value saved as JSON for later comparison.
type Report struct {
	Title    string
	Command  string // the exact command line that produced it
	Sections []Section
	Raw      any // every measurement, saved to results.json
}

// Section is one heading with notes and a table.
type Section struct {
	Heading string
	Notes   []string
	Table   *Table
}

// Table is a markdown table.
type Table struct {
	Header []string
	Rows   [][]string
}

// AddRow appends a row (cells formatted by the caller).
func (t *Table) AddRow(cells ...string) { t.Rows = append(t.Rows, cells) }

// Markdown writes the report.
func (r *Report) Markdown(w io.Writer) {
	fmt.Fprintf(w, "## %s\n\n", r.Title)
	if r.Command != "" {
		fmt.Fprintf(w, "Command: `%s`\n\n", r.Command)
	}
	for _, s := range r.Sections {
		if s.Heading != "" {
			fmt.Fprintf(w, "### %s\n\n", s.Heading)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
		if len(s.Notes) > 0 {
			fmt.Fprintln(w)
		}
		if s.Table != nil {
			s.Table.markdown(w)
			fmt.Fprintln(w)
		}
	}
}

func (t *Table) markdown(w io.Writer) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(t.Header, " | "))
	seps := make([]string, len(t.Header))
	for i := range seps {
		seps[i] = "---"
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(seps, " | "))
	for _, r := range t.Rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
}

// median of xs ignoring NaN; NaN when empty.
func median(xs []float64) float64 {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// fmtF formats a float with the given decimals, "–" for NaN.
func fmtF(x float64, dec int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf("%.*f", dec, x)
}

// fmtK formats a count in thousands-friendly form (12345 → "12,345").
func fmtK(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	s := fmt.Sprintf("%.0f", x)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// AddSkipped adds a "Skipped or failed" section listing why each target in
// skipped (target → reason) was skipped or failed, by name; none: nothing.
func (r *Report) AddSkipped(skipped map[string]string) {
	if len(skipped) == 0 {
		return
	}
	var notes []string
	for _, k := range slices.Sorted(maps.Keys(skipped)) {
		notes = append(notes, k+": "+shortErr(skipped[k]))
	}
	r.Sections = append(r.Sections, Section{Heading: "Skipped or failed", Notes: notes})
}
