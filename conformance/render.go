package conformance

import (
	"embed"
	htmltemplate "html/template"
	"io"
	"strings"
	texttemplate "text/template"
)

//go:embed templates/report.md.tmpl templates/report.html.tmpl
var templates embed.FS

var funcs = map[string]any{
	"join": strings.Join,
	"cell": func(s string) string { // a Markdown table cell
		return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
	},
	"lower": func(s Status) string { return strings.ToLower(string(s)) },
	"date":  func(r *Report) string { return r.Generated.UTC().Format("2006-01-02 15:04:05 MST") },
	// brk: a test name with break opportunities after each "/" and
	// between the words of its CamelCase, so that long names wrap at word
	// boundaries (never inside an ID, which stays nowrap).
	"brk": breakable,
}

func breakable(s string) htmltemplate.HTML {
	var b strings.Builder
	prev := rune(0)
	for _, r := range s {
		if r >= 'A' && r <= 'Z' && prev >= 'a' && prev <= 'z' {
			b.WriteString("<wbr>")
		}
		b.WriteString(htmltemplate.HTMLEscapeString(string(r)))
		if r == '/' {
			b.WriteString("<wbr>")
		}
		prev = r
	}
	return htmltemplate.HTML(b.String())
}

var (
	mdTmpl   = texttemplate.Must(texttemplate.New("report.md.tmpl").Funcs(funcs).ParseFS(templates, "templates/report.md.tmpl"))
	htmlTmpl = htmltemplate.Must(htmltemplate.New("report.html.tmpl").Funcs(funcs).ParseFS(templates, "templates/report.html.tmpl"))
)

// WriteMarkdown renders the report as Markdown.
func (r *Report) WriteMarkdown(w io.Writer) error { return mdTmpl.Execute(w, r) }

// WriteHTML renders the report as one static HTML page (inline CSS, no
// script), readable in any browser or without one.
func (r *Report) WriteHTML(w io.Writer) error { return htmlTmpl.Execute(w, r) }
