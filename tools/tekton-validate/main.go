// Command tekton-validate checks the Tekton Tasks and Pipelines the program
// installs, as written by `npm run manifests`, with Tekton's own admission
// code (SetDefaults + Validate) and with the checks Tekton leaves to run
// time. Its subcommand extract-scripts writes every shipped shell script to
// a directory for shellcheck. See docs/tekton-validation.md.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"knative.dev/pkg/apis"
)

const usage = `usage:
  tekton-validate [--feature-flags FILE] [--quiet-warnings] DIR|FILE...
      SetDefaults + Validate every tekton.dev/v1 Task and Pipeline (as the
      admission webhook does), then the run-time checks over every Pipeline.
      Prints "<Kind>/<name>: <field path>: <message>" per error and a summary;
      exits 1 on any error, 2 on bad usage or unreadable input.
  tekton-validate extract-scripts --out DIR DIR|FILE...
      Writes every shell script that ships in the objects to DIR (plus
      DIR/scripts.tsv: file, shell, origin) for shellcheck.
`

// report collects findings per object and prints them grouped by object,
// in input order.
type report struct {
	w        io.Writer
	errors   int
	warnings int
	quietW   bool
	order    []*object
	lines    map[*object][]string
}

func (r *report) add(o *object, line string, warning bool) {
	if r.lines == nil {
		r.lines = map[*object][]string{}
	}
	if warning {
		r.warnings++
		if r.quietW {
			return
		}
		line = "warning: " + line
	} else {
		r.errors++
	}
	if _, ok := r.lines[o]; !ok {
		r.order = append(r.order, o)
	}
	r.lines[o] = append(r.lines[o], line)
}

func (r *report) errorf(o *object, path, format string, a ...any) {
	r.add(o, fmt.Sprintf("%s: %s: %s", o.ref(), path, fmt.Sprintf(format, a...)), false)
}

func (r *report) warnf(o *object, path, format string, a ...any) {
	r.add(o, fmt.Sprintf("%s: %s: %s", o.ref(), path, fmt.Sprintf(format, a...)), true)
}

func (r *report) fieldErrors(o *object, fe *apis.FieldError) {
	errs, warns := fieldErrors(fe)
	for _, e := range errs {
		r.add(o, o.ref()+": "+e, false)
	}
	for _, w := range warns {
		r.add(o, o.ref()+": "+w, true)
	}
}

// flush prints every finding, objects in input order.
func (r *report) flush(objs []*object) {
	for _, o := range objs {
		for _, l := range r.lines[o] {
			fmt.Fprintln(r.w, l)
		}
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "extract-scripts" {
		return runExtract(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("tekton-validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	flagsFile := fs.String("feature-flags", "", "ConfigMap YAML (feature-flags) to validate with; default: a ConfigMap feature-flags in namespace tekton-pipelines among the inputs, else Tekton's defaults")
	quiet := fs.Bool("quiet-warnings", false, "do not print warnings")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	objs, err := loadDirs(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "tekton-validate: %v\n", err)
		return 2
	}
	ff, err := loadFeatureFlags(*flagsFile, objs)
	if err != nil {
		fmt.Fprintf(stderr, "tekton-validate: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "tekton-validate: %d objects from %s; feature flags: %s (enable-api-fields=%s)\n",
		len(objs), strings.Join(fs.Args(), " "), ff.from, ff.flags.EnableAPIFields)

	r := &report{w: stdout, quietW: *quiet}
	tk := admission(tektonContext(ff.flags), objs, r)
	runtimeChecks(tk, r)
	scriptChecks(objs, r)
	triggerChecks(objs, tk, r)
	r.flush(objs)
	fmt.Fprintf(stdout, "checked %d tasks, %d pipelines", len(tk.tasks), len(tk.pipelines))
	if tk.runs > 0 {
		fmt.Fprintf(stdout, ", %d pipelineruns", tk.runs)
	}
	fmt.Fprintf(stdout, ": %d errors", r.errors)
	if r.warnings > 0 {
		fmt.Fprintf(stdout, ", %d warnings", r.warnings)
	}
	fmt.Fprintln(stdout)
	if r.errors > 0 {
		return 1
	}
	return 0
}

func runExtract(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("extract-scripts", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	out := fs.String("out", "", "directory to write the scripts to (created)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	objs, err := loadDirs(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "tekton-validate extract-scripts: %v\n", err)
		return 2
	}
	e, err := extractScripts(objs, *out)
	if err != nil {
		fmt.Fprintf(stderr, "tekton-validate extract-scripts: %v\n", err)
		return 2
	}
	for _, s := range e.skipped {
		fmt.Fprintf(stderr, "note: %s\n", s)
	}
	for _, p := range e.problems {
		fmt.Fprintf(stdout, "%s\n", p)
	}
	fmt.Fprintf(stdout, "extracted %d scripts to %s", len(e.files), *out)
	if len(e.problems) > 0 {
		fmt.Fprintf(stdout, ": %d errors", len(e.problems))
	}
	fmt.Fprintln(stdout)
	if len(e.problems) > 0 {
		return 1
	}
	return 0
}
