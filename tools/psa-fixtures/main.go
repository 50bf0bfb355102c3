// Command psa-fixtures turns the Pod Security Standards test fixtures that ship in the
// k8s.io/pod-security-admission module (test/testdata/<level>/v1.<minor>/{pass,fail}/*.yaml) into
// Deployments, each with the verdict of the module's own policy evaluator at the "baseline" level of the
// newest policy version. test/podsecurity runs the PR-pod check of tekton/scripts/lib-pr-pod.sh on each
// and compares. See README.md.
//
//	psa-fixtures TESTDATA_DIR    writes the JSON document to stdout
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

const modulePath = "k8s.io/pod-security-admission"

// The name and namespace every emitted Deployment gets: what the verdict is about is its pod template.
const (
	appName   = "psa-fixture"
	namespace = "staging"
)

type fixture struct {
	// Name is the first file that holds this pod: <level>/v1.<minor>/<pass|fail>/<file>, newest version first.
	Name string `json:"name"`
	// Files are every fixture file that holds the same pod (the module repeats unchanged pods per version).
	Files []string `json:"files"`
	// Allowed is the module's verdict at baseline/latest.
	Allowed bool `json:"allowed"`
	// FailedChecks are the IDs of the baseline checks that refuse the pod, with the module's reason.
	FailedChecks map[string]string `json:"failedChecks"`
	Deployment   map[string]any    `json:"deployment"`
}

type document struct {
	Module        string   `json:"module"`
	Level         string   `json:"level"`
	PolicyVersion string   `json:"policyVersion"`
	BaselineCheck []string `json:"baselineChecks"`
	// VolumeSources are the volume types of the Kubernetes API this module was built with (the JSON names
	// of corev1.VolumeSource's fields): the PR pod's volume allowlist is tested against every one.
	VolumeSources []string  `json:"volumeSources"`
	Fixtures      []fixture `json:"fixtures"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: psa-fixtures TESTDATA_DIR (the module's test/testdata)")
		os.Exit(2)
	}
	doc, err := build(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "psa-fixtures:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(doc); err != nil {
		fmt.Fprintln(os.Stderr, "psa-fixtures:", err)
		os.Exit(1)
	}
}

// moduleVersion is the version of k8s.io/pod-security-admission this binary was built with; the fixtures
// must come from the same version, or the verdicts would be another version's.
func moduleVersion() (string, error) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "", fmt.Errorf("no build info in the binary")
	}
	for _, dep := range info.Deps {
		if dep.Path == modulePath {
			return dep.Version, nil
		}
	}
	return "", fmt.Errorf("%s is not among the binary's dependencies", modulePath)
}

func build(testdata string) (*document, error) {
	version, err := moduleVersion()
	if err != nil {
		return nil, err
	}
	if !strings.Contains(filepath.ToSlash(testdata), modulePath+"@"+version+"/") {
		return nil, fmt.Errorf("%s is not the test/testdata folder of %s@%s (the version this tool was built with)", testdata, modulePath, version)
	}
	checks := policy.DefaultChecks()
	latest := api.LevelVersion{Level: api.LevelBaseline, Version: api.LatestVersion()}
	whole, err := policy.NewEvaluator(checks, nil)
	if err != nil {
		return nil, err
	}
	// One evaluator per baseline check tells which check refuses a pod.
	single := map[string]policy.Evaluator{}
	var newest api.Version
	for _, c := range checks {
		for _, v := range c.Versions {
			if newest.Older(v.MinimumVersion) {
				newest = v.MinimumVersion
			}
		}
		if c.Level != api.LevelBaseline {
			continue
		}
		e, err := policy.NewEvaluator([]policy.Check{c}, nil)
		if err != nil {
			return nil, err
		}
		single[string(c.ID)] = e
	}
	doc := &document{Module: modulePath + "@" + version, Level: string(api.LevelBaseline), PolicyVersion: newest.String()}
	for id := range single {
		doc.BaselineCheck = append(doc.BaselineCheck, id)
	}
	sort.Strings(doc.BaselineCheck)
	doc.VolumeSources = volumeSources()

	files, err := fixtureFiles(testdata)
	if err != nil {
		return nil, err
	}
	newestDir := filepath.ToSlash(filepath.Join(string(api.LevelBaseline), newest.String())) + "/"
	seen := map[string]int{}
	for _, rel := range files {
		raw, err := os.ReadFile(filepath.Join(testdata, rel))
		if err != nil {
			return nil, err
		}
		var pod corev1.Pod
		if err := yaml.UnmarshalStrict(raw, &pod); err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		var generic map[string]any
		if err := yaml.Unmarshal(raw, &generic); err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		key, err := podKey(generic)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		if i, ok := seen[key]; ok {
			doc.Fixtures[i].Files = append(doc.Fixtures[i].Files, rel)
			continue
		}
		allowed := policy.AggregateCheckResults(whole.EvaluatePod(latest, &pod.ObjectMeta, &pod.Spec)).Allowed
		failed := map[string]string{}
		for id, e := range single {
			for _, r := range e.EvaluatePod(latest, &pod.ObjectMeta, &pod.Spec) {
				if !r.Allowed {
					failed[id] = r.ForbiddenReason + ": " + r.ForbiddenDetail
				}
			}
		}
		if allowed != (len(failed) == 0) {
			return nil, fmt.Errorf("%s: the whole evaluator says allowed=%v, the single checks refuse %v", rel, allowed, failed)
		}
		// The newest version's folders are the module's statement about the current policy: they must
		// agree with its evaluator, or this tool reads the fixtures wrong.
		if strings.HasPrefix(rel, newestDir) {
			want := strings.HasPrefix(rel, newestDir+"pass/")
			if allowed != want {
				return nil, fmt.Errorf("%s: the module's evaluator says allowed=%v at %s, but the fixture is in %s", rel, allowed, latest, filepath.Dir(rel))
			}
		}
		seen[key] = len(doc.Fixtures)
		doc.Fixtures = append(doc.Fixtures, fixture{
			Name: strings.TrimSuffix(rel, ".yaml"), Files: []string{rel}, Allowed: allowed, FailedChecks: failed,
			Deployment: deploymentOf(generic),
		})
	}
	if len(doc.Fixtures) == 0 {
		return nil, fmt.Errorf("no fixtures under %s", testdata)
	}
	return doc, nil
}

// fixtureFiles lists <level>/v1.<minor>/<pass|fail>/*.yaml under testdata, newest version first, so a
// pod repeated across versions is named after the newest file that holds it.
func fixtureFiles(testdata string) ([]string, error) {
	var files []string
	for _, level := range []api.Level{api.LevelBaseline, api.LevelRestricted} {
		dirs, err := filepath.Glob(filepath.Join(testdata, string(level), "v1.*"))
		if err != nil {
			return nil, err
		}
		versions := map[string]api.Version{}
		for _, d := range dirs {
			v, err := api.ParseVersion(filepath.Base(d))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", d, err)
			}
			versions[d] = v
		}
		sort.Slice(dirs, func(i, j int) bool {
			vi, vj := versions[dirs[i]], versions[dirs[j]]
			return vj.Older(vi)
		})
		for _, d := range dirs {
			for _, verdict := range []string{"fail", "pass"} {
				names, err := filepath.Glob(filepath.Join(d, verdict, "*.yaml"))
				if err != nil {
					return nil, err
				}
				sort.Strings(names)
				for _, n := range names {
					rel, err := filepath.Rel(testdata, n)
					if err != nil {
						return nil, err
					}
					files = append(files, filepath.ToSlash(rel))
				}
			}
		}
	}
	return files, nil
}

// podKey identifies a pod by everything but its name (each fixture file is named after itself).
func podKey(pod map[string]any) (string, error) {
	meta, _ := pod["metadata"].(map[string]any)
	copyMeta := map[string]any{}
	for k, v := range meta {
		if k != "name" {
			copyMeta[k] = v
		}
	}
	var buf bytes.Buffer
	err := json.NewEncoder(&buf).Encode(map[string]any{"metadata": copyMeta, "spec": pod["spec"]})
	return buf.String(), err
}

// deploymentOf wraps the fixture's pod in a Deployment: its annotations and spec become the pod template's.
func deploymentOf(pod map[string]any) map[string]any {
	labels := map[string]any{"app": appName}
	templateMeta := map[string]any{"labels": labels}
	if meta, ok := pod["metadata"].(map[string]any); ok {
		if a, ok := meta["annotations"]; ok {
			templateMeta["annotations"] = a
		}
	}
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": appName, "namespace": namespace},
		"spec": map[string]any{
			"replicas": 1,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{"metadata": templateMeta, "spec": pod["spec"]},
		},
	}
}

// volumeSources lists the JSON names of the fields of corev1.VolumeSource, one per volume type.
func volumeSources() []string {
	var names []string
	t := reflect.TypeOf(corev1.VolumeSource{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}
