package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/tektoncd/pipeline/pkg/apis/config"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"knative.dev/pkg/apis"
	webhookjson "knative.dev/pkg/webhook/json"
	"sigs.k8s.io/yaml"
)

const (
	tektonGroupV1      = "tekton.dev/v1"
	featureFlagsName   = "feature-flags"
	tektonNamespace    = "tekton-pipelines"
	scriptsConfigMapPx = "tekton-dag-scripts"
)

// flagSource describes where the feature flags came from, for the log.
type flagSource struct {
	flags *config.FeatureFlags
	from  string
}

// loadFeatureFlags picks the feature flags Validate runs with:
//  1. --feature-flags FILE (a ConfigMap YAML) when given,
//  2. else a ConfigMap (or ConfigMapPatch) feature-flags in namespace
//     tekton-pipelines found among the input objects,
//  3. else Tekton's defaults.
func loadFeatureFlags(file string, objs []*object) (flagSource, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return flagSource{}, err
		}
		var cm struct {
			Kind string            `json:"kind"`
			Data map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal(data, &cm); err != nil {
			return flagSource{}, fmt.Errorf("%s: %w", file, err)
		}
		if cm.Kind != "" && cm.Kind != "ConfigMap" {
			return flagSource{}, fmt.Errorf("%s: expected a ConfigMap, got kind %q", file, cm.Kind)
		}
		ff, err := config.NewFeatureFlagsFromMap(cm.Data)
		if err != nil {
			return flagSource{}, fmt.Errorf("%s: invalid feature flags: %w", file, err)
		}
		return flagSource{ff, file}, nil
	}
	for _, o := range objs {
		if (o.Kind == "ConfigMap" || o.Kind == "ConfigMapPatch") && o.Name == featureFlagsName && o.Namespace == tektonNamespace {
			data := map[string]string{}
			if d, ok := o.Map["data"].(map[string]any); ok {
				for k, v := range d {
					data[k] = fmt.Sprint(v)
				}
			}
			ff, err := config.NewFeatureFlagsFromMap(data)
			if err != nil {
				return flagSource{}, fmt.Errorf("%s (%s): invalid feature flags: %w", o.ref(), o.File, err)
			}
			return flagSource{ff, fmt.Sprintf("%s in namespace %s (%s)", o.ref(), o.Namespace, o.File)}, nil
		}
	}
	ff, _ := config.NewFeatureFlagsFromMap(map[string]string{})
	return flagSource{ff, "Tekton defaults"}, nil
}

// tektonContext builds the context the admission webhook would hand to
// SetDefaults and Validate: the config store (defaults for everything but the
// feature flags) and "within create".
func tektonContext(ff *config.FeatureFlags) context.Context {
	cfg := config.FromContextOrDefaults(context.Background())
	cfg.FeatureFlags = ff
	ctx := config.ToContext(context.Background(), cfg)
	return apis.WithinCreate(ctx)
}

// decodeStrict decodes like the Tekton webhook does: unknown fields outside
// metadata are rejected.
func decodeStrict(o *object, into any) error {
	return webhookjson.Decode(o.JSON, into, true)
}

// fieldErrors turns a FieldError into report lines "<path>: <message>",
// one per path, errors and warnings apart.
func fieldErrors(fe *apis.FieldError) (errs, warns []string) {
	if fe == nil {
		return nil, nil
	}
	conv := func(list []*apis.FieldError) []string {
		var out []string
		for _, e := range list {
			msg := e.Message
			if e.Details != "" {
				msg += " (" + strings.ReplaceAll(e.Details, "\n", " ") + ")"
			}
			paths := e.Paths
			if len(paths) == 0 {
				paths = []string{"."}
			}
			for _, p := range paths {
				if p == "" {
					p = "."
				}
				out = append(out, p+": "+msg)
			}
		}
		sort.Strings(out)
		return out
	}
	if e := fe.Filter(apis.ErrorLevel); e != nil {
		errs = conv(e.WrappedErrors())
	}
	if w := fe.Filter(apis.WarningLevel); w != nil {
		warns = conv(w.WrappedErrors())
	}
	return errs, warns
}

// tektonObjects holds the decoded (and defaulted) Tasks and Pipelines.
type tektonObjects struct {
	tasks     []*taskObj
	pipelines []*pipelineObj
	runs      int // PipelineRuns (files of their own)
}

type taskObj struct {
	obj  *object
	task *v1.Task
}

type pipelineObj struct {
	obj      *object
	pipeline *v1.Pipeline
}

func isTekton(o *object, kind string) bool {
	return o.Kind == kind && o.APIVersion == tektonGroupV1
}

// admission decodes every tekton.dev/v1 Task, Pipeline and PipelineRun, runs SetDefaults
// then Validate, and reports what Tekton's admission webhook would reject.
// Objects that do not decode are reported and left out of the later checks.
func admission(ctx context.Context, objs []*object, r *report) tektonObjects {
	var out tektonObjects
	seen := map[string]*object{}
	for _, o := range objs {
		if strings.HasPrefix(o.APIVersion, "tekton.dev/") {
			key := o.Kind + "/" + o.Namespace + "/" + o.Name
			if first, dup := seen[key]; dup {
				r.errorf(o, ".", "defined more than once in namespace %q (%s and %s); pass one stack's manifests directory at a time", o.Namespace, first.File, o.File)
				continue
			}
			seen[key] = o
		}
		if strings.HasPrefix(o.APIVersion, "tekton.dev/") && o.APIVersion != tektonGroupV1 &&
			(o.Kind == "Task" || o.Kind == "Pipeline") {
			r.errorf(o, "apiVersion", "%s is not checked: only tekton.dev/v1 Tasks and Pipelines are supported (v1beta1 is deprecated)", o.APIVersion)
			continue
		}
		switch {
		case isTekton(o, "Task"):
			t := &v1.Task{}
			if err := decodeStrict(o, t); err != nil {
				r.errorf(o, ".", "cannot decode (the webhook rejects unknown fields too): %v", err)
				continue
			}
			t.SetDefaults(ctx)
			r.fieldErrors(o, t.Validate(ctx))
			out.tasks = append(out.tasks, &taskObj{o, t})
		case isTekton(o, "PipelineRun"):
			pr := &v1.PipelineRun{}
			if err := decodeStrict(o, pr); err != nil {
				r.errorf(o, ".", "cannot decode (the webhook rejects unknown fields too): %v", err)
				continue
			}
			// kubectl create names a generateName-only run before admission sees it: the API server
			// appends five characters.
			if pr.Name == "" && pr.GenerateName != "" {
				pr.Name = pr.GenerateName + "abcde"
			}
			pr.SetDefaults(ctx)
			r.fieldErrors(o, pr.Validate(ctx))
			out.runs++
		case isTekton(o, "Pipeline"):
			p := &v1.Pipeline{}
			if err := decodeStrict(o, p); err != nil {
				r.errorf(o, ".", "cannot decode (the webhook rejects unknown fields too): %v", err)
				continue
			}
			p.SetDefaults(ctx)
			r.fieldErrors(o, p.Validate(ctx))
			out.pipelines = append(out.pipelines, &pipelineObj{o, p})
		}
	}
	return out
}
