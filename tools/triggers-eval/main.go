// Command triggers-eval decides GitHub deliveries the way a Tekton Triggers v0.37.0 EventListener does, with
// Triggers' own code: the EventListener sink's interceptor chain (pkg/sink ExecuteInterceptors) calling the
// core interceptors' HTTP server (pkg/interceptors/server, the github and cel interceptors) over loopback,
// then the sink's binding and template resolution (pkg/template). Only the sink's HTTP front door and the
// creation of the resulting objects are left out: the resources are printed instead of created.
//
// Input (stdin, JSON):
//
//	{"objects": [EventListener, TriggerBinding..., TriggerTemplate...],   // as the program renders them
//	 "secrets": {"<secret name>/<key>": "<value>"},                        // what the github interceptor reads
//	 "deliveries": [{"headers": {"X-GitHub-Event": ["pull_request"], ...}, "body": "<raw body>"}]}
//
// Output (stdout, JSON): one entry per delivery, one decision per trigger of the listener, in order:
//
//	[[{"trigger": "...", "accepted": true|false, "reason": "...", "resources": [...]}]]
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"

	triggersv1 "github.com/tektoncd/triggers/pkg/apis/triggers/v1beta1"
	"github.com/tektoncd/triggers/pkg/apis/triggers/v1alpha1"
	listersv1alpha1 "github.com/tektoncd/triggers/pkg/client/listers/triggers/v1alpha1"
	listers "github.com/tektoncd/triggers/pkg/client/listers/triggers/v1beta1"
	"github.com/tektoncd/triggers/pkg/interceptors/server"
	"github.com/tektoncd/triggers/pkg/sink"
	"github.com/tektoncd/triggers/pkg/template"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

type delivery struct {
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

type input struct {
	Objects    []json.RawMessage `json:"objects"`
	Secrets    map[string]string `json:"secrets"`
	Deliveries []delivery        `json:"deliveries"`
}

type decision struct {
	Trigger   string            `json:"trigger"`
	Accepted  bool              `json:"accepted"`
	Reason    string            `json:"reason,omitempty"`
	Resources []json.RawMessage `json:"resources,omitempty"`
}

// secrets is the interceptors' SecretGetter: the Secrets a test names, instead of the API server's.
type secrets map[string]string

func (s secrets) Get(_ context.Context, _ string, ref *triggersv1.SecretRef) ([]byte, error) {
	v, ok := s[ref.SecretName+"/"+ref.SecretKey]
	if !ok {
		return nil, fmt.Errorf("secret %s has no key %s", ref.SecretName, ref.SecretKey)
	}
	return []byte(v), nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "triggers-eval:", err)
		os.Exit(1)
	}
}

func run() error {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		return fmt.Errorf("reading the input: %w", err)
	}
	logger := zap.NewNop().Sugar()
	core, err := server.NewWithCoreInterceptors(secrets(in.Secrets), logger)
	if err != nil {
		return err
	}
	interceptorServer := httptest.NewServer(core)
	defer interceptorServer.Close()

	idx := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	bindings, templates, clusterInterceptors := idx(), idx(), idx()
	var listener *triggersv1.EventListener
	for i, raw := range in.Objects {
		var meta metav1.TypeMeta
		if err := json.Unmarshal(raw, &meta); err != nil {
			return fmt.Errorf("object %d: %w", i, err)
		}
		switch meta.Kind {
		case "EventListener":
			listener = &triggersv1.EventListener{}
			err = json.Unmarshal(raw, listener)
		case "TriggerBinding":
			obj := &triggersv1.TriggerBinding{}
			if err = json.Unmarshal(raw, obj); err == nil {
				err = bindings.Add(obj)
			}
		case "TriggerTemplate":
			obj := &triggersv1.TriggerTemplate{}
			if err = json.Unmarshal(raw, obj); err == nil {
				err = templates.Add(obj)
			}
		default:
			err = fmt.Errorf("kind %q is not one this tool reads (EventListener, TriggerBinding, TriggerTemplate)", meta.Kind)
		}
		if err != nil {
			return fmt.Errorf("object %d (%s): %w", i, meta.Kind, err)
		}
	}
	if listener == nil {
		return fmt.Errorf("no EventListener among the objects")
	}
	// The release's ClusterInterceptors, addressed at the in-process interceptor server.
	for _, name := range []string{"github", "cel"} {
		u, _ := apis.ParseURL(interceptorServer.URL + "/" + name)
		ci := &v1alpha1.ClusterInterceptor{ObjectMeta: metav1.ObjectMeta{Name: name}}
		ci.Status.Address = &duckv1.Addressable{URL: u}
		if err := clusterInterceptors.Add(ci); err != nil {
			return err
		}
	}

	s := sink.Sink{
		HTTPClient:               http.DefaultClient,
		EventListenerNamespace:   listener.Namespace,
		Logger:                   logger,
		ClusterInterceptorLister: listersv1alpha1.NewClusterInterceptorLister(clusterInterceptors),
	}
	tbLister := listers.NewTriggerBindingLister(bindings).TriggerBindings(listener.Namespace)
	ttLister := listers.NewTriggerTemplateLister(templates).TriggerTemplates(listener.Namespace)

	out := make([][]decision, 0, len(in.Deliveries))
	for n, d := range in.Deliveries {
		var decisions []decision
		for _, t := range listener.Spec.Triggers {
			dec, err := decide(s, tbLister.Get, ttLister.Get, listener.Namespace, t, d, fmt.Sprintf("event-%d", n))
			if err != nil {
				return fmt.Errorf("delivery %d, trigger %s: %w", n, t.Name, err)
			}
			decisions = append(decisions, dec)
		}
		out = append(out, decisions)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// decide runs one inline trigger of the listener as the sink's processTrigger does.
func decide(s sink.Sink, getTB func(string) (*triggersv1.TriggerBinding, error), getTT func(string) (*triggersv1.TriggerTemplate, error),
	ns string, et triggersv1.EventListenerTrigger, d delivery, eventID string) (decision, error) {
	if et.Template == nil {
		return decision{}, fmt.Errorf("only inline triggers with a template are supported")
	}
	t := triggersv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Name: et.Name, Namespace: ns},
		Spec: triggersv1.TriggerSpec{
			ServiceAccountName: et.ServiceAccountName, Bindings: et.Bindings, Template: *et.Template, Interceptors: et.Interceptors,
		},
	}
	req := &http.Request{Method: http.MethodPost, URL: &url.URL{Scheme: "http", Host: "el-listener", Path: "/"}, Header: http.Header{}}
	for k, vs := range d.Headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	body, header, resp, err := s.ExecuteTriggerInterceptors(t, req, []byte(d.Body), s.Logger, eventID, map[string]interface{}{})
	if err != nil {
		return decision{}, err
	}
	dec := decision{Trigger: et.Name}
	if resp != nil && !resp.Continue {
		dec.Reason = strings.TrimSpace(resp.Status.Message)
		return dec, nil
	}
	rt, err := template.ResolveTrigger(t, getTB, func(string) (*triggersv1.ClusterTriggerBinding, error) {
		return nil, fmt.Errorf("no ClusterTriggerBindings here")
	}, getTT)
	if err != nil {
		return decision{}, err
	}
	extensions := map[string]interface{}{}
	if resp != nil && resp.Extensions != nil {
		extensions = resp.Extensions
	}
	params, err := template.ResolveParams(rt, body, header, extensions, template.NewTriggerContext(eventID))
	if err != nil {
		// The sink logs this and creates nothing.
		dec.Reason = "binding: " + err.Error()
		return dec, nil
	}
	dec.Accepted = true
	dec.Resources = template.ResolveResources(rt.TriggerTemplate, params)
	return dec, nil
}
