package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Two more run-time contracts the admission webhook cannot see:
//
//  1. scripts: a step or container that runs /tekton-dag/scripts/<file>
//     (docs/conventions.md) needs the tekton-dag-scripts volume mounted at
//     /tekton-dag/scripts, that volume must name a scripts ConfigMap among the
//     inputs, and the ConfigMap must hold <file>.
//  2. TriggerTemplate: a PipelineRun it creates must name an installed
//     Pipeline, pass only params the Pipeline declares, pass every param without
//     a default, bind every required workspace, give taskRunSpecs only to tasks
//     the Pipeline has, and use only $(tt.params.x) that the TriggerTemplate
//     declares. A PipelineRun file of its own gets the same checks.

const scriptsMount = "/tekton-dag/scripts"

type configMaps map[string]map[string]*object // namespace -> name -> ConfigMap

func indexConfigMaps(objs []*object) configMaps {
	idx := configMaps{}
	for _, o := range objs {
		if o.Kind == "ConfigMap" && o.APIVersion == "v1" {
			if idx[o.Namespace] == nil {
				idx[o.Namespace] = map[string]*object{}
			}
			idx[o.Namespace][o.Name] = o
		}
	}
	return idx
}

func asMap(v any) map[string]any       { m, _ := v.(map[string]any); return m }
func asList(v any) []any               { l, _ := v.([]any); return l }
func asString(v any) string            { s, _ := v.(string); return s }
func fieldPath(p string, i int) string { return fmt.Sprintf("%s[%d]", p, i) }

// scriptRefChecks checks every step/container of one pod-like spec.
// volumes: the spec's volumes; lists: path -> containers.
func scriptRefChecks(r *report, o *object, cms configMaps, volPath string, volumes []any, lists map[string][]any) {
	// volume name -> ConfigMap name
	cmOfVolume := map[string]string{}
	for _, v := range volumes {
		vm := asMap(v)
		if cm := asMap(vm["configMap"]); cm != nil {
			cmOfVolume[asString(vm["name"])] = asString(cm["name"])
		}
	}
	keys := make([]string, 0, len(lists))
	for k := range lists {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, listPath := range keys {
		for i, c := range lists[listPath] {
			cm := asMap(c)
			argv := strList(cm["command"])
			if len(argv) == 0 || !strings.HasPrefix(argv[0], scriptsMount+"/") {
				continue
			}
			at := fieldPath(listPath, i) + ".command[0]"
			file := strings.TrimPrefix(argv[0], scriptsMount+"/")
			name := asString(cm["name"])
			// which volume is mounted at /tekton-dag/scripts?
			vol := ""
			for _, m := range asList(cm["volumeMounts"]) {
				mm := asMap(m)
				if strings.TrimSuffix(asString(mm["mountPath"]), "/") == scriptsMount {
					vol = asString(mm["name"])
				}
			}
			if vol == "" {
				r.errorf(o, at, "%q runs %s but mounts nothing at %s (volumeMount of volume tekton-dag-scripts)", name, argv[0], scriptsMount)
				continue
			}
			cmName, ok := cmOfVolume[vol]
			if !ok {
				r.errorf(o, at, "%q runs %s from volume %q, which is not a configMap volume in %s", name, argv[0], vol, volPath)
				continue
			}
			cmObj := cms[o.Namespace][cmName]
			if cmObj == nil {
				r.errorf(o, at, "%q runs %s from ConfigMap %q, which is not among the input objects in namespace %s", name, argv[0], cmName, o.Namespace)
				continue
			}
			if _, ok := asMap(cmObj.Map["data"])[file]; !ok {
				r.errorf(o, at, "%q runs %s, but ConfigMap %q has no key %q", name, argv[0], cmName, file)
			}
		}
	}
}

func podSpecPath(kind string) string {
	switch kind {
	case "Pod":
		return "spec"
	case "CronJob":
		return "spec.jobTemplate.spec.template.spec"
	}
	return "spec.template.spec"
}

func scriptChecks(objs []*object, r *report) {
	cms := indexConfigMaps(objs)
	taskSpec := func(o *object, base string, spec map[string]any) {
		if spec == nil {
			return
		}
		scriptRefChecks(r, o, cms, base+".volumes", asList(spec["volumes"]), map[string][]any{
			base + ".steps":    asList(spec["steps"]),
			base + ".sidecars": asList(spec["sidecars"]),
		})
	}
	for _, o := range objs {
		switch {
		case isTekton(o, "Task"):
			taskSpec(o, "spec", asMap(o.Map["spec"]))
		case isTekton(o, "Pipeline"):
			for _, section := range []string{"tasks", "finally"} {
				for i, pt := range asList(get(o.Map, "spec", section)) {
					taskSpec(o, fmt.Sprintf("spec.%s[%d].taskSpec", section, i), asMap(asMap(pt)["taskSpec"]))
				}
			}
		default:
			if ps := podSpecOf(o); ps != nil {
				p := podSpecPath(o.Kind)
				scriptRefChecks(r, o, cms, p+".volumes", asList(ps["volumes"]), map[string][]any{
					p + ".initContainers": asList(ps["initContainers"]),
					p + ".containers":     asList(ps["containers"]),
				})
			}
		}
	}
}

var ttParamRe = regexp.MustCompile(`\$\(tt\.params\.([A-Za-z0-9_.-]+)\)`)

func triggerChecks(objs []*object, tk tektonObjects, r *report) {
	pipelines := map[string]*pipelineObj{}
	for _, p := range tk.pipelines {
		pipelines[p.obj.Namespace+"/"+p.obj.Name] = p
	}
	for _, o := range objs {
		if o.Kind != "TriggerTemplate" || !strings.HasPrefix(o.APIVersion, "triggers.tekton.dev/") {
			continue
		}
		declared := map[string]bool{}
		for _, p := range asList(get(o.Map, "spec", "params")) {
			declared[asString(asMap(p)["name"])] = true
		}
		for i, rt := range asList(get(o.Map, "spec", "resourcetemplates")) {
			at := fieldPath("spec.resourcetemplates", i)
			rm := asMap(rt)
			js := string(mustJSON(rm))
			seen := map[string]bool{}
			for _, m := range ttParamRe.FindAllStringSubmatch(js, -1) {
				if !declared[m[1]] && !seen[m[1]] {
					seen[m[1]] = true
					r.errorf(o, at, "uses $(tt.params.%s), which the TriggerTemplate does not declare", m[1])
				}
			}
			if asString(rm["kind"]) != "PipelineRun" || asString(rm["apiVersion"]) != tektonGroupV1 {
				continue
			}
			ns := asString(get(rm, "metadata", "namespace"))
			if ns == "" {
				ns = o.Namespace // the EventListener creates it in its namespace
			}
			runAgainstPipeline(r, o, at, asMap(rm["spec"]), ns, pipelines)
		}
	}
	// A PipelineRun file of its own (one started by hand): the same checks, in its own namespace.
	for _, o := range objs {
		if isTekton(o, "PipelineRun") {
			runAgainstPipeline(r, o, "", asMap(o.Map["spec"]), o.Namespace, pipelines)
		}
	}
}

// runAgainstPipeline checks what Tekton's reconciler checks when it starts the run (admission does not look
// at the Pipeline): the Pipeline exists, every param passed is declared and every one without a default is
// passed, every required workspace is bound, and taskRunSpecs name tasks of the Pipeline.
func runAgainstPipeline(r *report, o *object, at string, spec map[string]any, ns string, pipelines map[string]*pipelineObj) {
	field := func(p string) string {
		if at == "" {
			return p
		}
		return at + "." + p
	}
	name := asString(get(spec, "pipelineRef", "name"))
	if name == "" {
		return // resolver or embedded pipelineSpec: not followed
	}
	po := pipelines[ns+"/"+name]
	if po == nil {
		r.errorf(o, field("spec.pipelineRef.name"), "PipelineRun names Pipeline %q, which is not installed in namespace %s among the input objects", name, ns)
		return
	}
	ps := po.pipeline.Spec
	passed := map[string]bool{}
	for _, p := range asList(spec["params"]) {
		n := asString(asMap(p)["name"])
		passed[n] = true
		found := false
		for _, d := range ps.Params {
			found = found || d.Name == n
		}
		if !found {
			var names []string
			for _, d := range ps.Params {
				names = append(names, d.Name)
			}
			r.errorf(o, field("spec.params["+n+"]"), "PipelineRun passes param %q, which Pipeline %q does not declare (declared: %s)", n, name, listOrNone(names))
		}
	}
	for _, d := range ps.Params {
		if d.Default == nil && !passed[d.Name] {
			r.errorf(o, field("spec.params"), "PipelineRun does not pass param %q, which Pipeline %q requires (it has no default)", d.Name, name)
		}
	}
	// Tekton's reconciler fails a run whose taskRunSpecs name a task the Pipeline lacks
	// (ValidateTaskRunSpecs); admission does not look.
	pipelineTasks := map[string]bool{}
	for _, t := range ps.Tasks {
		pipelineTasks[t.Name] = true
	}
	for _, t := range ps.Finally {
		pipelineTasks[t.Name] = true
	}
	for j, s := range asList(spec["taskRunSpecs"]) {
		n := asString(asMap(s)["pipelineTaskName"])
		if !pipelineTasks[n] {
			r.errorf(o, field(fieldPath("spec.taskRunSpecs", j)+".pipelineTaskName"), "taskRunSpecs names pipeline task %q, which Pipeline %q does not have among its tasks or finally tasks (Tekton fails the run)", n, name)
		}
	}
	bound := map[string]bool{}
	for _, w := range asList(spec["workspaces"]) {
		bound[asString(asMap(w)["name"])] = true
	}
	for _, w := range ps.Workspaces {
		if !w.Optional && !bound[w.Name] {
			r.errorf(o, field("spec.workspaces"), "PipelineRun does not bind workspace %q, which Pipeline %q requires", w.Name, name)
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
