package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func runValidator(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	rc := run(args, &out, &errOut)
	return out.String(), rc
}

// Every fixture with an EXPECT file: "validate:" lines must appear in the
// validator's output, the good fixture must pass, fixtures with validate
// expectations must fail. (shellcheck expectations are checked by
// scripts/check-tekton.sh.)
func TestFixtures(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/EXPECT")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, expect := range dirs {
		dir := filepath.Dir(expect)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(expect)
			if err != nil {
				t.Fatal(err)
			}
			out, rc := runValidator(t, dir)
			var wants []string
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "validate: "); ok {
					wants = append(wants, w)
				}
			}
			for _, w := range wants {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q\noutput:\n%s", w, out)
				}
			}
			switch {
			case filepath.Base(dir) == "good" && rc != 0:
				t.Errorf("good fixture rejected (rc %d):\n%s", rc, out)
			case filepath.Base(dir) != "good" && len(wants) > 1 && rc != 1:
				t.Errorf("rc = %d, want 1:\n%s", rc, out)
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const enumTask = `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: pick
  namespace: tekton-dag
spec:
  params:
    - name: backend
      enum: [telepresence, mirrord]
      default: telepresence
  steps:
    - name: s
      image: busybox
      command: ["true"]
`

const enumFlags = `apiVersion: v1
kind: ConfigMap
metadata:
  name: feature-flags
  namespace: tekton-pipelines
data:
  enable-param-enum: "true"
`

// Validate runs with the feature flags: default, from --feature-flags, or
// from a feature-flags ConfigMap among the inputs.
func TestFeatureFlags(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "objs", "tekton-dag", "Task-pick.yaml"), enumTask)
	write(t, filepath.Join(dir, "flags.yaml"), enumFlags)

	out, rc := runValidator(t, filepath.Join(dir, "objs"))
	if rc != 1 || !strings.Contains(out, "Task/pick: spec.params[backend]: feature flag `enable-param-enum` should be set to true to use Enum") {
		t.Errorf("default flags: rc %d, output:\n%s", rc, out)
	}
	out, rc = runValidator(t, "--feature-flags", filepath.Join(dir, "flags.yaml"), filepath.Join(dir, "objs"))
	if rc != 0 {
		t.Errorf("--feature-flags: rc %d, output:\n%s", rc, out)
	}
	write(t, filepath.Join(dir, "objs", "tekton-pipelines", "ConfigMap-feature-flags.yaml"), enumFlags)
	out, rc = runValidator(t, filepath.Join(dir, "objs"))
	if rc != 0 {
		t.Errorf("ConfigMap among inputs: rc %d, output:\n%s", rc, out)
	}
}

// The webhook decodes with unknown fields disallowed; so does the validator.
func TestUnknownField(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "Task-x.yaml"), strings.Replace(enumTask, "  steps:", "  stpes: []\n  steps:", 1))
	out, rc := runValidator(t, dir)
	if rc != 1 || !strings.Contains(out, `unknown field "stpes"`) {
		t.Errorf("rc %d, output:\n%s", rc, out)
	}
}

func TestMultiDocumentAndSummary(t *testing.T) {
	dir := t.TempDir()
	g, _ := os.ReadFile("testdata/good/tekton-dag/Task-greet.yaml")
	r, _ := os.ReadFile("testdata/good/tekton-dag/Task-report.yaml")
	p, _ := os.ReadFile("testdata/good/tekton-dag/Pipeline-good.yaml")
	cm, _ := os.ReadFile("testdata/good/tekton-dag/ConfigMap-tekton-dag-scripts-0123abcd.yaml")
	write(t, filepath.Join(dir, "all.yml"), "---\n"+string(g)+"---\n"+string(r)+"\n---\n# nothing\n---\n"+string(p)+"---\n"+string(cm))
	out, rc := runValidator(t, dir)
	if rc != 0 || !strings.Contains(out, "checked 2 tasks, 1 pipelines: 0 errors") {
		t.Errorf("rc %d, output:\n%s", rc, out)
	}
}

func TestShellOf(t *testing.T) {
	for script, want := range map[string][2]any{
		"echo hi":                            {"sh", true},
		"#!/bin/sh\necho":                    {"sh", true},
		"#!/usr/bin/env bash\nset -e":        {"bash", true},
		"#!/bin/bash -eu\n":                  {"bash", true},
		"#!/usr/bin/env -S bash -e\n":        {"bash", true},
		"#!/usr/bin/env python3\nprint(1)\n": {"python3", false},
		"#!/busybox/sh\n":                    {"sh", true},
	} {
		sh, _, ok := shellOf(script)
		if sh != want[0] || ok != want[1] {
			t.Errorf("shellOf(%q) = %q, %v; want %v", script, sh, ok, want)
		}
	}
}

func TestInlineShell(t *testing.T) {
	cases := []struct {
		argv  []string
		shell string
		ok    bool
	}{
		{[]string{"sh", "-c", "echo"}, "sh", true},
		{[]string{"/bin/bash", "-euc", "echo"}, "bash", true},
		{[]string{"bash", "-o", "pipefail", "-c", "echo"}, "bash", true},
		{[]string{"bash", "script.sh"}, "", false},
		{[]string{"/tekton-dag/scripts/x.sh"}, "", false},
		{[]string{"python3", "-c", "print(1)"}, "", false},
	}
	for _, c := range cases {
		sh, _, ok := inlineShell(c.argv)
		if sh != c.shell || ok != c.ok {
			t.Errorf("inlineShell(%q) = %q, %v", c.argv, sh, ok)
		}
	}
}

func TestPinnedRevisions(t *testing.T) {
	for rev, pinned := range map[string]bool{
		"0123456789abcdef0123456789abcdef01234567": true,
		"v0.9":           true,
		"0.9.0":          true,
		"v1.2.3-rc.1":    true,
		"main":           false,
		"release-v1.2":   false,
		"0123456789abcd": false,
	} {
		if got := commitRe.MatchString(rev) || tagRe.MatchString(rev); got != pinned {
			t.Errorf("%q pinned = %v, want %v", rev, got, pinned)
		}
	}
}

func TestFindResultRefs(t *testing.T) {
	got := findResultRefs(`a $(tasks.a.results.b) $(tasks.c.results.d.key) $(tasks.e.results["f.g"]) $(tasks.h.results.i[*]) $(tasks.j.status) $(params.k)`)
	want := [][2]string{{"a", "b"}, {"c", "d"}, {"e", "f.g"}, {"h", "i"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestExtractScripts(t *testing.T) {
	objs, err := loadDirs([]string{"testdata/good"})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	e, err := extractScripts(objs, out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range e.files {
		got = append(got, f.file+" "+f.shell)
	}
	sort.Strings(got)
	want := []string{
		"ConfigMap-tekton-dag-scripts-0123abcd/lib-common.sh bash",
		"ConfigMap-tekton-dag-scripts-0123abcd/report.sh bash",
		"CronJob-sweeper-sweep.sh sh",
		"Task-greet-greet.sh bash",
		"Task-report-summary.sh sh",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if len(e.problems) != 0 {
		t.Errorf("problems: %v", e.problems)
	}
	tsv, _ := os.ReadFile(filepath.Join(out, "scripts.tsv"))
	if !strings.Contains(string(tsv), "Task-greet-greet.sh\tbash\tTask/greet step \"greet\"\n") {
		t.Errorf("scripts.tsv:\n%s", tsv)
	}
}

func TestScriptWithoutShebangInConfigMap(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cm.yaml"), `apiVersion: v1
kind: ConfigMap
metadata: {name: tekton-dag-scripts-1, namespace: ns}
data:
  run.sh: |
    echo no shebang
`)
	var out, errOut bytes.Buffer
	if rc := run([]string{"extract-scripts", "--out", filepath.Join(dir, "out"), dir}, &out, &errOut); rc != 1 {
		t.Errorf("rc %d", rc)
	}
	if !strings.Contains(out.String(), `ConfigMap/tekton-dag-scripts-1 key "run.sh": no shebang line`) {
		t.Errorf("output:\n%s", out.String())
	}
}
