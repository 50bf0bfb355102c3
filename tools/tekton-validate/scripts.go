package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Script extraction: every shell script that ships inside an object is
// written to OUT so shellcheck checks exactly what is applied.
//
//   - Task (and Pipeline taskSpec) steps/sidecars with `script`:
//     <Kind>-<name>-<step>.sh, <Kind>-<name>-sidecar-<sidecar>.sh,
//     Pipeline-<name>-<pipelineTask>-<step>.sh
//   - steps, sidecars and workload containers that run `sh|bash -c SCRIPT`
//     in command/args: <Kind>-<name>-<container>.sh
//   - the scripts ConfigMap (name tekton-dag-scripts*): every key as
//     ConfigMap-<name>/<key>, so that `source "$SCRIPTS_DIR/lib-common.sh"`
//     resolves next to it (shellcheck -x); lib-*.sh are sourced libraries
//     and are checked as bash.
//
// OUT/scripts.tsv lists "<file>\t<shell>\t<origin>" for every extracted
// file; scripts.sh reads it to pick shellcheck's --shell.

type extracted struct {
	file   string // relative to OUT
	shell  string // sh, bash, dash, ksh
	origin string
}

type extractor struct {
	out      string
	files    []extracted
	skipped  []string // non-shell scripts, for the log
	problems []string // things that are wrong regardless of shellcheck
	used     map[string]int
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safe(s string) string {
	s = unsafeName.ReplaceAllString(s, "_")
	if s == "" {
		return "_"
	}
	return s
}

// shellOf reads the shebang. ok=false for a non-shell interpreter.
// hasShebang=false when the script has none.
func shellOf(script string) (shell string, hasShebang, ok bool) {
	first, _, _ := strings.Cut(script, "\n")
	first = strings.TrimSpace(strings.TrimSuffix(first, "\r"))
	if !strings.HasPrefix(first, "#!") {
		return "sh", false, true
	}
	fields := strings.Fields(strings.TrimPrefix(first, "#!"))
	if len(fields) == 0 {
		return "sh", true, true
	}
	interp := path.Base(fields[0])
	if interp == "env" {
		interp = ""
		for _, f := range fields[1:] {
			if !strings.HasPrefix(f, "-") {
				interp = path.Base(f)
				break
			}
		}
	}
	switch interp {
	case "sh", "ash", "busybox":
		return "sh", true, true
	case "bash", "dash", "ksh":
		return interp, true, true
	}
	return interp, true, false
}

func (e *extractor) write(name, content, shell, origin string) error {
	if n := e.used[name]; n > 0 {
		ext := filepath.Ext(name)
		name = fmt.Sprintf("%s-%d%s", strings.TrimSuffix(name, ext), n+1, ext)
	}
	e.used[name]++
	full := filepath.Join(e.out, name)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(full, []byte(content), 0o755); err != nil {
		return err
	}
	e.files = append(e.files, extracted{name, shell, origin})
	return nil
}

func (e *extractor) addScript(name, script, origin string) error {
	shell, _, ok := shellOf(script)
	if !ok {
		e.skipped = append(e.skipped, fmt.Sprintf("%s: interpreter %q is not a shell, not checked", origin, shell))
		return nil
	}
	return e.write(name, script, shell, origin)
}

var shells = map[string]string{"sh": "sh", "ash": "sh", "bash": "bash", "dash": "dash", "ksh": "ksh"}

// inlineShell finds `sh -c SCRIPT` (also -ec, -euc ...) in command+args.
func inlineShell(argv []string) (shell, script string, ok bool) {
	if len(argv) < 3 {
		return "", "", false
	}
	sh, isShell := shells[path.Base(argv[0])]
	if !isShell {
		return "", "", false
	}
	for i := 1; i < len(argv)-1; i++ {
		a := argv[i]
		if a == "-o" || a == "+o" { // -o pipefail
			i++
			continue
		}
		if !strings.HasPrefix(a, "-") {
			return "", "", false
		}
		if !strings.HasPrefix(a, "--") && strings.Contains(a, "c") {
			return sh, argv[i+1], true
		}
	}
	return "", "", false
}

func strList(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func get(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// containers handles a list of steps/sidecars/containers: `script` fields
// and inline `sh -c`.
func (e *extractor) containers(prefix, originPrefix, kindWord string, list any) error {
	items, _ := list.([]any)
	for i, it := range items {
		c, _ := it.(map[string]any)
		if c == nil {
			continue
		}
		name, _ := c["name"].(string)
		if name == "" {
			name = fmt.Sprintf("%s%d", kindWord, i)
		}
		label := name
		if kindWord == "sidecar" {
			label = "sidecar-" + name
		}
		origin := fmt.Sprintf("%s %s %q", originPrefix, kindWord, name)
		if s, _ := c["script"].(string); s != "" {
			if err := e.addScript(prefix+"-"+safe(label)+".sh", s, origin); err != nil {
				return err
			}
			continue
		}
		argv := append(strList(c["command"]), strList(c["args"])...)
		if sh, script, ok := inlineShell(argv); ok {
			if err := e.write(prefix+"-"+safe(label)+".sh", script, sh, origin+" ("+argv[0]+" -c)"); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *extractor) taskSpec(prefix, origin string, spec any) error {
	m, _ := spec.(map[string]any)
	if m == nil {
		return nil
	}
	if err := e.containers(prefix, origin, "step", m["steps"]); err != nil {
		return err
	}
	return e.containers(prefix, origin, "sidecar", m["sidecars"])
}

func podSpecOf(o *object) map[string]any {
	var v any
	switch o.Kind {
	case "Pod":
		v = get(o.Map, "spec")
	case "CronJob":
		v = get(o.Map, "spec", "jobTemplate", "spec", "template", "spec")
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController":
		v = get(o.Map, "spec", "template", "spec")
	}
	m, _ := v.(map[string]any)
	return m
}

func extractScripts(objs []*object, out string) (*extractor, error) {
	e := &extractor{out: out, used: map[string]int{}}
	for _, o := range objs {
		base := safe(o.Kind) + "-" + safe(o.Name)
		origin := o.ref()
		switch {
		case strings.HasPrefix(o.APIVersion, "tekton.dev/") && o.Kind == "Task":
			if err := e.taskSpec(base, origin, get(o.Map, "spec")); err != nil {
				return nil, err
			}
		case strings.HasPrefix(o.APIVersion, "tekton.dev/") && o.Kind == "Pipeline":
			for _, section := range []string{"tasks", "finally"} {
				pts, _ := get(o.Map, "spec", section).([]any)
				for _, it := range pts {
					pt, _ := it.(map[string]any)
					ptName, _ := pt["name"].(string)
					if err := e.taskSpec(base+"-"+safe(ptName), fmt.Sprintf("%s task %q", origin, ptName), pt["taskSpec"]); err != nil {
						return nil, err
					}
				}
			}
		case o.Kind == "ConfigMap" && strings.HasPrefix(o.Name, scriptsConfigMapPx):
			data, _ := o.Map["data"].(map[string]any)
			keys := make([]string, 0, len(data))
			for k := range data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				s, _ := data[k].(string)
				origin := fmt.Sprintf("%s key %q", o.ref(), k)
				name := base + "/" + safe(k)
				if strings.HasPrefix(k, "lib-") && strings.HasSuffix(k, ".sh") {
					if err := e.write(name, s, "bash", origin+" (sourced library)"); err != nil {
						return nil, err
					}
					continue
				}
				if _, has, _ := shellOf(s); !has {
					e.problems = append(e.problems, fmt.Sprintf("%s: no shebang line; steps run these files directly (command: [/tekton-dag/scripts/%s]), which fails with \"exec format error\"", origin, k))
				}
				if err := e.addScript(name, s, origin); err != nil {
					return nil, err
				}
			}
		default:
			if ps := podSpecOf(o); ps != nil {
				if err := e.containers(base, origin, "initContainer", ps["initContainers"]); err != nil {
					return nil, err
				}
				if err := e.containers(base, origin, "container", ps["containers"]); err != nil {
					return nil, err
				}
			}
		}
	}
	var b strings.Builder
	for _, f := range e.files {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", f.file, f.shell, f.origin)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	return e, os.WriteFile(filepath.Join(out, "scripts.tsv"), []byte(b.String()), 0o644)
}
