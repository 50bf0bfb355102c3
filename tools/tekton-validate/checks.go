package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
)

// The checks Tekton's Validate leaves to run time. They need the Tasks the
// Pipeline refers to, so they run over the whole set of input objects.

// taskDecl is what a pipeline task's Task declares: params, results,
// workspaces. what names it in messages ("Task \"deploy\"", "its taskSpec").
type taskDecl struct {
	what       string
	params     v1.ParamSpecs
	results    []v1.TaskResult
	workspaces []v1.WorkspaceDeclaration
}

func declOf(what string, ts *v1.TaskSpec) *taskDecl {
	return &taskDecl{what: what, params: ts.Params, results: ts.Results, workspaces: ts.Workspaces}
}

func (d *taskDecl) param(name string) *v1.ParamSpec {
	for i := range d.params {
		if d.params[i].Name == name {
			return &d.params[i]
		}
	}
	return nil
}

func (d *taskDecl) result(name string) *v1.TaskResult {
	for i := range d.results {
		if d.results[i].Name == name {
			return &d.results[i]
		}
	}
	return nil
}

func (d *taskDecl) paramNames() string {
	var n []string
	for _, p := range d.params {
		n = append(n, p.Name)
	}
	return listOrNone(n)
}

func (d *taskDecl) resultNames() string {
	var n []string
	for _, r := range d.results {
		n = append(n, r.Name)
	}
	return listOrNone(n)
}

func listOrNone(n []string) string {
	if len(n) == 0 {
		return "none"
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

var (
	commitRe    = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
	tagRe       = regexp.MustCompile(`^v?[0-9]+(\.[0-9]+)+([-+][0-9A-Za-z.-]+)?$`)
	digestRe    = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
	urlPinnedRe = regexp.MustCompile(`/([0-9a-f]{40}|v?[0-9]+(\.[0-9]+)+([-+][0-9A-Za-z.-]+)?)/`)
	// $(tasks.X.results.Y...), $(tasks.X.results["Y"]), $(tasks.X.results['Y'])
	resultRefRe   = regexp.MustCompile(`\$\(\s*tasks\.([A-Za-z0-9_-]+)\.results(?:\.([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)|\[\s*["']([^"']+)["']\s*\])`)
	exactParamRe  = regexp.MustCompile(`^\$\(params\.([A-Za-z0-9_.-]+?)\[\*\]\)$`)
	exactResultRe = regexp.MustCompile(`^\$\(tasks\.([A-Za-z0-9_-]+)\.results\.([A-Za-z0-9_-]+)\[\*\]\)$`)
)

type resultRef struct {
	task, result string
	where        string // field path relative to the pipeline task, "" when only found elsewhere
}

// findResultRefs returns the distinct $(tasks.X.results.Y) references in s.
func findResultRefs(s string) [][2]string {
	var out [][2]string
	for _, m := range resultRefRe.FindAllStringSubmatch(s, -1) {
		name := m[2]
		if name == "" {
			name = m[3]
		} else {
			// results.Y.key (object property) -> Y
			name = strings.SplitN(name, ".", 2)[0]
		}
		out = append(out, [2]string{m[1], name})
	}
	return out
}

// ptRefs collects result references of a pipeline task with the field they
// were found in: params, matrix, when, and anything else (taskSpec, resolver
// params, workspaces ...) with where == "".
func ptRefs(pt *v1.PipelineTask) []resultRef {
	seen := map[[2]string]bool{}
	var out []resultRef
	add := func(s, where string) {
		for _, r := range findResultRefs(s) {
			if !seen[r] {
				seen[r] = true
				out = append(out, resultRef{r[0], r[1], where})
			}
		}
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for _, p := range pt.Params {
		add(js(p.Value), fmt.Sprintf("params[%s]", p.Name))
	}
	if pt.Matrix != nil {
		for _, p := range pt.Matrix.Params {
			add(js(p.Value), fmt.Sprintf("matrix.params[%s]", p.Name))
		}
		for i, inc := range pt.Matrix.Include {
			add(js(inc), fmt.Sprintf("matrix.include[%d]", i))
		}
	}
	for i, w := range pt.When {
		add(js(w), fmt.Sprintf("when[%d]", i))
	}
	if pt.TaskRef != nil {
		add(js(pt.TaskRef), "taskRef")
	}
	add(js(pt), "")
	return out
}

// pipelineChecker runs the run-time checks for one Pipeline.
type pipelineChecker struct {
	r      *report
	obj    *object
	p      *v1.Pipeline
	tasks  map[string]map[string]*taskObj // namespace -> name -> Task
	decls  map[string]*taskDecl           // pipeline task name -> declaration (nil: unknown)
	dagPTs map[string]*v1.PipelineTask    // tasks section
	finPTs map[string]*v1.PipelineTask    // finally section
	deps   map[string][]string            // Tekton's own dependency map (runAfter + result refs)
}

func runtimeChecks(objs tektonObjects, r *report) {
	idx := map[string]map[string]*taskObj{}
	for _, t := range objs.tasks {
		if idx[t.obj.Namespace] == nil {
			idx[t.obj.Namespace] = map[string]*taskObj{}
		}
		idx[t.obj.Namespace][t.obj.Name] = t
	}
	for _, po := range objs.pipelines {
		c := &pipelineChecker{r: r, obj: po.obj, p: po.pipeline, tasks: idx,
			decls: map[string]*taskDecl{}, dagPTs: map[string]*v1.PipelineTask{}, finPTs: map[string]*v1.PipelineTask{}}
		c.run()
	}
}

func (c *pipelineChecker) errorf(path, format string, a ...any) {
	c.r.errorf(c.obj, path, format, a...)
}
func (c *pipelineChecker) warnf(path, format string, a ...any) { c.r.warnf(c.obj, path, format, a...) }

func (c *pipelineChecker) run() {
	spec := &c.p.Spec
	for i := range spec.Tasks {
		c.dagPTs[spec.Tasks[i].Name] = &spec.Tasks[i]
	}
	for i := range spec.Finally {
		c.finPTs[spec.Finally[i].Name] = &spec.Finally[i]
	}
	c.deps = v1.PipelineTaskList(spec.Tasks).Deps()

	// resolve every taskRef first: result checks need the declarations of other tasks
	type item struct {
		path string
		pt   *v1.PipelineTask
		fin  bool
	}
	var items []item
	for i := range spec.Tasks {
		items = append(items, item{fmt.Sprintf("spec.tasks[%d]", i), &spec.Tasks[i], false})
	}
	for i := range spec.Finally {
		items = append(items, item{fmt.Sprintf("spec.finally[%d]", i), &spec.Finally[i], true})
	}
	for _, it := range items {
		c.decls[it.pt.Name] = c.resolve(it.path, it.pt)
	}
	for _, it := range items {
		d := c.decls[it.pt.Name]
		if d != nil {
			c.checkParams(it.path, it.pt, d)
			c.checkWorkspaces(it.path, it.pt, d)
		}
		c.checkResultRefs(it.path, it.pt, it.fin)
	}
	c.checkPipelineResults()
}

// resolve finds what the pipeline task runs. It reports unresolvable and
// unpinned references and returns nil when the declaration is not known here.
func (c *pipelineChecker) resolve(path string, pt *v1.PipelineTask) *taskDecl {
	if pt.PipelineRef != nil || pt.PipelineSpec != nil {
		c.warnf(path, "task %q runs a Pipeline (pipelines-in-pipelines): its params, results and workspaces are not checked", pt.Name)
		return nil
	}
	if pt.TaskSpec != nil {
		if pt.TaskSpec.IsCustomTask() {
			c.warnf(path+".taskSpec", "task %q is a custom task (%s %s): not checked", pt.Name, pt.TaskSpec.APIVersion, pt.TaskSpec.Kind)
			return nil
		}
		return declOf(fmt.Sprintf("the taskSpec of task %q", pt.Name), &pt.TaskSpec.TaskSpec)
	}
	ref := pt.TaskRef
	if ref == nil {
		return nil // Validate reports "expected exactly one, got neither"
	}
	if ref.Resolver != "" || len(ref.Params) > 0 {
		return c.resolveRemote(path+".taskRef", pt)
	}
	if strings.Contains(ref.Name, "$(") {
		c.errorf(path+".taskRef.name", "task %q: taskRef.name %q is built from a parameter; Tekton's admission webhook rejects it "+
			"(validateRef: a Task name must be a qualified Kubernetes name, variables are not substituted there); "+
			"a parameterised Task works only through a resolver (taskRef.resolver with params), or use one pipeline task per Task guarded by `when`",
			pt.Name, ref.Name)
		return nil
	}
	if ref.APIVersion != "" && ref.Kind != "" {
		c.warnf(path+".taskRef", "task %q references custom task %s %s %q: not checked", pt.Name, ref.APIVersion, ref.Kind, ref.Name)
		return nil
	}
	if ref.Kind != "" && ref.Kind != v1.NamespacedTaskKind {
		c.errorf(path+".taskRef.kind", "task %q: taskRef.kind %q is not supported by tekton.dev/v1 (only Task, or apiVersion+kind for a custom task)", pt.Name, ref.Kind)
		return nil
	}
	return c.lookupTask(path+".taskRef.name", pt.Name, c.obj.Namespace, ref.Name)
}

func (c *pipelineChecker) lookupTask(path, ptName, ns, name string) *taskDecl {
	if t := c.tasks[ns][name]; t != nil {
		return declOf(fmt.Sprintf("Task %q", name), &t.task.Spec)
	}
	var elsewhere []string
	for other, m := range c.tasks {
		if m[name] != nil {
			if other == "" {
				other = "(no namespace)"
			}
			elsewhere = append(elsewhere, other)
		}
	}
	hint := ""
	if len(elsewhere) > 0 {
		sort.Strings(elsewhere)
		hint = fmt.Sprintf("; a Task %q exists in namespace %s, but a PipelineRun resolves taskRefs in its own namespace", name, strings.Join(elsewhere, ", "))
	}
	nsText := ns
	if nsText == "" {
		nsText = "(no namespace)"
	}
	c.errorf(path, "task %q references Task %q, which is not installed: no Task of that name in namespace %s among the input objects%s", ptName, name, nsText, hint)
	return nil
}

func paramString(ps v1.Params, name string) (string, bool) {
	for _, p := range ps {
		if p.Name == name {
			if p.Value.Type == v1.ParamTypeString || p.Value.Type == "" {
				return p.Value.StringVal, true
			}
			b, _ := json.Marshal(p.Value)
			return string(b), true
		}
	}
	return "", false
}

// resolveRemote checks that a resolver reference is pinned. Only the cluster
// resolver can be followed (to a Task among the inputs).
func (c *pipelineChecker) resolveRemote(path string, pt *v1.PipelineTask) *taskDecl {
	ref := pt.TaskRef
	get := func(n string) (string, bool) { return paramString(ref.Params, n) }
	dynamic := func(param, v string) bool {
		if strings.Contains(v, "$(") {
			what := "the reference cannot be shown to be pinned"
			if ref.Resolver == "cluster" {
				what = "the Task cannot be shown to be installed"
			}
			c.errorf(path+".params["+param+"]", "task %q: %s resolver param %s=%q comes from a variable, so %s", pt.Name, ref.Resolver, param, v, what)
			return true
		}
		return false
	}
	switch ref.Resolver {
	case "git":
		rev, ok := get("revision")
		switch {
		case !ok || rev == "":
			c.errorf(path+".params", "task %q: git resolver reference without param revision follows the repository's default branch; pin it to a 40-hex commit or a release tag (v1.2.3)", pt.Name)
		case dynamic("revision", rev):
		case commitRe.MatchString(rev) || tagRe.MatchString(rev):
		default:
			c.errorf(path+".params[revision]", "task %q: git resolver revision %q looks like a branch; pin it to a 40-hex commit or a release tag (v1.2.3)", pt.Name, rev)
		}
	case "hub":
		v, ok := get("version")
		if !ok || v == "" {
			c.errorf(path+".params", "task %q: hub resolver reference without param version resolves to the latest version; set version", pt.Name)
		} else {
			dynamic("version", v)
		}
	case "bundles":
		b, ok := get("bundle")
		switch {
		case !ok || b == "":
			c.errorf(path+".params", "task %q: bundles resolver reference without param bundle", pt.Name)
		case dynamic("bundle", b):
		case !digestRe.MatchString(b):
			c.errorf(path+".params[bundle]", "task %q: bundle image %q is not pinned by digest; use IMAGE@sha256:<64 hex>", pt.Name, b)
		}
	case "http":
		u, _ := get("url")
		if !dynamic("url", u) && !urlPinnedRe.MatchString(u) {
			c.errorf(path+".params[url]", "task %q: http resolver url %q has no commit or version segment, so it is not pinned", pt.Name, u)
		}
	case "cluster":
		kind, _ := get("kind")
		name, _ := get("name")
		ns, ok := get("namespace")
		if !ok || ns == "" {
			ns = c.obj.Namespace
		}
		if kind != "" && kind != "task" {
			c.errorf(path+".params[kind]", "task %q: cluster resolver kind %q: a pipeline task needs kind task", pt.Name, kind)
			return nil
		}
		if dynamic("name", name) || dynamic("namespace", ns) {
			return nil
		}
		return c.lookupTask(path+".params[name]", pt.Name, ns, name)
	default:
		c.errorf(path+".resolver", "task %q: resolver %q is not known to this check, so it cannot tell whether the reference is pinned", pt.Name, ref.Resolver)
	}
	return nil
}

// passedType is the type a param value has once substituted.
func (c *pipelineChecker) passedType(v v1.ParamValue) v1.ParamType {
	if v.Type != v1.ParamTypeString && v.Type != "" {
		return v.Type
	}
	if m := exactParamRe.FindStringSubmatch(v.StringVal); m != nil {
		for _, ps := range c.p.Spec.Params {
			if ps.Name == m[1] && ps.Type != "" {
				return ps.Type
			}
		}
		return v1.ParamTypeArray
	}
	if m := exactResultRe.FindStringSubmatch(v.StringVal); m != nil {
		if d := c.decls[m[1]]; d != nil {
			if r := d.result(m[2]); r != nil && r.Type != "" {
				return v1.ParamType(r.Type)
			}
		}
		return v1.ParamTypeArray
	}
	return v1.ParamTypeString
}

func (c *pipelineChecker) checkParams(path string, pt *v1.PipelineTask, d *taskDecl) {
	passed := map[string]bool{}
	for _, p := range pt.Params {
		passed[p.Name] = true
		at := fmt.Sprintf("%s.params[%s]", path, p.Name)
		spec := d.param(p.Name)
		if spec == nil {
			c.errorf(at, "task %q passes param %q, which %s does not declare (declared: %s)", pt.Name, p.Name, d.what, d.paramNames())
			continue
		}
		want := spec.Type
		if want == "" {
			want = v1.ParamTypeString
		}
		if got := c.passedType(p.Value); got != want {
			c.errorf(at, "task %q passes param %q as %s, but %s declares it as %s", pt.Name, p.Name, got, d.what, want)
			continue
		}
		if want == v1.ParamTypeObject && p.Value.Type == v1.ParamTypeObject && spec.Default == nil {
			var missing []string
			for k := range spec.Properties {
				if _, ok := p.Value.ObjectVal[k]; !ok {
					missing = append(missing, k)
				}
			}
			if len(missing) > 0 {
				c.errorf(at, "task %q passes object param %q without key(s) %s that %s declares (and gives no default)", pt.Name, p.Name, listOrNone(missing), d.what)
			}
		}
	}
	if pt.Matrix != nil {
		var mps v1.Params
		mps = append(mps, pt.Matrix.Params...)
		for _, inc := range pt.Matrix.Include {
			mps = append(mps, inc.Params...)
		}
		for _, p := range mps {
			passed[p.Name] = true
			spec := d.param(p.Name)
			if spec == nil {
				c.errorf(path+".matrix.params["+p.Name+"]", "task %q fans out param %q, which %s does not declare (declared: %s)", pt.Name, p.Name, d.what, d.paramNames())
			}
		}
	}
	for _, spec := range d.params {
		if spec.Default == nil && !passed[spec.Name] {
			c.errorf(path+".params", "task %q does not pass param %q, which %s requires (it has no default)", pt.Name, spec.Name, d.what)
		}
	}
}

func (c *pipelineChecker) checkWorkspaces(path string, pt *v1.PipelineTask, d *taskDecl) {
	bound := map[string]bool{}
	declared := map[string]bool{}
	for _, w := range d.workspaces {
		declared[w.Name] = true
	}
	pipelineWS := map[string]v1.PipelineWorkspaceDeclaration{}
	for _, w := range c.p.Spec.Workspaces {
		pipelineWS[w.Name] = w
	}
	for i, b := range pt.Workspaces {
		bound[b.Name] = true
		if !declared[b.Name] {
			var names []string
			for n := range declared {
				names = append(names, n)
			}
			c.errorf(fmt.Sprintf("%s.workspaces[%d]", path, i), "task %q binds workspace %q, which %s does not declare (declared: %s); the TaskRun would be rejected", pt.Name, b.Name, d.what, listOrNone(names))
		}
		// that the pipeline workspace exists is Validate's job (it reports it)
	}
	for _, w := range d.workspaces {
		if w.Optional || bound[w.Name] {
			continue
		}
		c.errorf(path+".workspaces", "task %q does not bind workspace %q, which %s requires (not optional)", pt.Name, w.Name, d.what)
	}
	for i, b := range pt.Workspaces {
		pw := b.Workspace
		if pw == "" {
			pw = b.Name
		}
		decl, ok := pipelineWS[pw]
		if !ok || !decl.Optional {
			continue
		}
		for _, w := range d.workspaces {
			if w.Name == b.Name && !w.Optional {
				c.warnf(fmt.Sprintf("%s.workspaces[%d]", path, i), "task %q binds required workspace %q to optional pipeline workspace %q: a PipelineRun without it fails", pt.Name, b.Name, pw)
			}
		}
	}
}

// closure returns every task that runs before `name` per Tekton's graph.
func (c *pipelineChecker) closure(name string) map[string]bool {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		for _, d := range c.deps[n] {
			if !seen[d] {
				seen[d] = true
				visit(d)
			}
		}
	}
	visit(name)
	return seen
}

func (c *pipelineChecker) checkResultRefs(path string, pt *v1.PipelineTask, finally bool) {
	before := c.closure(pt.Name)
	for _, ref := range ptRefs(pt) {
		at := path
		if ref.where != "" {
			at += "." + ref.where
		}
		ex := fmt.Sprintf("$(tasks.%s.results.%s)", ref.task, ref.result)
		producer, inDAG := c.dagPTs[ref.task]
		_, inFinally := c.finPTs[ref.task]
		switch {
		case ref.task == pt.Name:
			c.errorf(at, "task %q reads its own result through %s; a task cannot consume its own result", pt.Name, ex)
			continue
		case inFinally && !inDAG:
			c.errorf(at, "task %q reads %s, but %q is a finally task: finally tasks run last, their results are visible only to pipeline results", pt.Name, ex, ref.task)
			continue
		case !inDAG:
			c.errorf(at, "task %q reads %s, but the pipeline has no task %q", pt.Name, ex, ref.task)
			continue
		}
		if d := c.decls[ref.task]; d != nil && d.result(ref.result) == nil {
			what := d.what
			if what != fmt.Sprintf("Task %q", ref.task) {
				what += fmt.Sprintf(" (task %q)", ref.task)
			}
			c.errorf(at, "task %q reads %s, but %s declares no result %q (declared: %s)", pt.Name, ex, what, ref.result, d.resultNames())
		}
		if finally {
			c.errorf(at, "finally task %q reads %s, a result of DAG task %q: if %q fails, is skipped or does not write %q, Tekton skips this finally task "+
				"silently and the run still reports Completed; pass the value through the shared workspace (or read it in the script) instead",
				pt.Name, ex, ref.task, ref.task, ref.result)
			continue
		}
		if after := c.closure(ref.task)[pt.Name]; !before[ref.task] || after {
			extra := ""
			if after {
				extra = fmt.Sprintf(" (%q itself runs after %q)", ref.task, pt.Name)
			}
			c.errorf(at, "task %q reads %s, but task %q does not run before it%s; Tekton orders tasks only by runAfter and result references in params, when and taskSpec",
				pt.Name, ex, ref.task, extra)
			continue
		}
		if len(producer.When) > 0 {
			c.warnf(at, "task %q reads %s of when-guarded task %q: when %q is skipped, %q is skipped too (MissingResultsSkip)", pt.Name, ex, ref.task, ref.task, pt.Name)
		}
	}
}

func (c *pipelineChecker) checkPipelineResults() {
	for i, res := range c.p.Spec.Results {
		b, _ := json.Marshal(res.Value)
		at := fmt.Sprintf("spec.results[%d]", i)
		for _, r := range findResultRefs(string(b)) {
			if _, ok := c.dagPTs[r[0]]; !ok {
				continue // Validate reports unknown tasks
			}
			if d := c.decls[r[0]]; d != nil && d.result(r[1]) == nil {
				c.errorf(at, "pipeline result %q reads $(tasks.%s.results.%s), but %s declares no result %q (declared: %s)", res.Name, r[0], r[1], d.what, r[1], d.resultNames())
			}
		}
	}
}
