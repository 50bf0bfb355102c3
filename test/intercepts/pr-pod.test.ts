// The PR pod both deploy tasks submit is the app's own pod: the Deployment's whole pod template with only
// the app container's image replaced, the changes docs/stack-file.md lists, and nothing else.
import { strict as assert } from "node:assert";
import { created, Rule, RUN_ID, runScript, tempDir } from "./harness";
import { deployEnv, happyRules, IMAGES } from "./fixtures";

const SCRIPTS = ["deploy-intercept-mirrord.sh", "deploy-stack-intercepts.sh"];

/** A Deployment as the API server returns it: a ConfigMap and a Secret mounted, a sidecar, an init container, own identity. */
function richDeployment(): any {
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: {
            name: "demo-fe", namespace: "staging", uid: "d0d0d0d0-0000-4000-8000-000000000001", resourceVersion: "4711",
            generation: 3, labels: { app: "demo-fe" }, annotations: { "deployment.kubernetes.io/revision": "3" },
        },
        spec: {
            replicas: 1,
            selector: { matchLabels: { app: "demo-fe" } },
            template: {
                metadata: {
                    creationTimestamp: null,
                    // tier is not in the Deployment's selector, but the app's Service may well select on it.
                    labels: { app: "demo-fe", tier: "web", "app.kubernetes.io/name": "demo-fe" },
                    annotations: {
                        "prometheus.io/scrape": "true",
                        "kubectl.kubernetes.io/restartedAt": "2026-11-30T10:00:00Z",
                        "telepresence.getambassador.io/inject-traffic-agent": "enabled",
                        "telepresence.io/inject-traffic-agent": "enabled",
                    },
                },
                spec: {
                    serviceAccountName: "demo-fe",
                    serviceAccount: "demo-fe",
                    automountServiceAccountToken: true,
                    imagePullSecrets: [{ name: "staging-registry" }],
                    securityContext: { runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
                    restartPolicy: "Always",
                    terminationGracePeriodSeconds: 45,
                    dnsPolicy: "ClusterFirst",
                    schedulerName: "default-scheduler",
                    nodeSelector: { "kubernetes.io/os": "linux" },
                    tolerations: [{ key: "staging", operator: "Exists", effect: "NoSchedule" }],
                    affinity: {
                        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: ["apps"] }] }] } },
                        podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: "demo-fe" } }, topologyKey: "kubernetes.io/hostname" }] },
                    },
                    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: "demo-fe" } } }],
                    volumes: [
                        { name: "config", configMap: { name: "demo-fe-config", defaultMode: 420 } },
                        { name: "creds", secret: { secretName: "demo-fe-creds", defaultMode: 256 } },
                        { name: "cache", emptyDir: {} },
                    ],
                    initContainers: [{
                        name: "migrate", image: "registry.local/demo-fe-migrate:1.0", command: ["/migrate", "--config", "/etc/demo/app.yaml"],
                        volumeMounts: [{ name: "config", mountPath: "/etc/demo" }],
                    }, {
                        // A native sidecar (restartPolicy Always): it runs beside the app, host ports and all.
                        name: "log-shipper", image: "registry.local/log-shipper:2.0", restartPolicy: "Always",
                        ports: [{ containerPort: 24224, hostPort: 24224, protocol: "TCP" }],
                    }],
                    containers: [
                        {
                            name: "envoy", image: "docker.io/envoyproxy/envoy:v1.34.1", args: ["-c", "/etc/envoy/envoy.yaml"],
                            ports: [{ containerPort: 9901, name: "admin", protocol: "TCP" }],
                            resources: { requests: { cpu: "50m", memory: "64Mi" } },
                        },
                        {
                            name: "demo-fe", image: "registry.local/demo-fe:1.0", imagePullPolicy: "IfNotPresent",
                            command: ["node"], args: ["server.js", "--config", "/etc/demo/app.yaml"],
                            ports: [{ containerPort: 3000, name: "http", protocol: "TCP", hostPort: 3000 }],
                            env: [{ name: "API_URL", value: "http://demo-api.api-ns" }, { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
                            envFrom: [{ secretRef: { name: "demo-fe-env" } }],
                            volumeMounts: [
                                { name: "config", mountPath: "/etc/demo", readOnly: true },
                                { name: "creds", mountPath: "/var/run/creds", readOnly: true },
                                { name: "cache", mountPath: "/cache" },
                            ],
                            readinessProbe: { httpGet: { path: "/ready", port: 3000, scheme: "HTTP" }, periodSeconds: 5, failureThreshold: 3 },
                            livenessProbe: { httpGet: { path: "/live", port: 3000, scheme: "HTTP" }, periodSeconds: 10 },
                            startupProbe: { tcpSocket: { port: 3000 }, failureThreshold: 30, periodSeconds: 2 },
                            resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
                            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                            terminationMessagePath: "/dev/termination-log",
                            terminationMessagePolicy: "File",
                        },
                    ],
                },
            },
        },
        status: { replicas: 1, readyReplicas: 1 },
    };
}

/** The pod spec the docs promise for richDeployment(): the template's, with only the listed changes. */
function expectedSpec(dep: any): any {
    const spec = structuredClone(dep.spec.template.spec);
    spec.restartPolicy = "Never";
    delete spec.topologySpreadConstraints;
    delete spec.affinity.podAntiAffinity;
    const app = spec.containers.find((c: any) => c.name === "demo-fe");
    app.image = IMAGES["demo-fe"];
    delete app.ports[0].hostPort;
    delete spec.initContainers[1].ports[0].hostPort;
    return spec;
}

function deploy(script: string, feDeployment: any, extra: Rule[] = []) {
    const dir = tempDir();
    const rules: Rule[] = [
        ...extra,
        { cmd: "kubectl", match: "^get deployment demo-fe ", stdout: feDeployment },
        ...happyRules(),
    ];
    const res = runScript(script, deployEnv(dir), rules, dir);
    const prPods = created(res.calls).filter((o) => o.kind === "Pod" && o.metadata.labels?.["tekton-dag.io/role"] === "pr-pod");
    return { res, fe: prPods.find((p) => p.metadata.labels["tekton-dag.io/app"] === "demo-fe"), prPods };
}

for (const script of SCRIPTS) {
    describe(`${script}: the PR pod is the app's pod`, () => {
        let out: ReturnType<typeof deploy>;
        const dep = richDeployment();
        before(() => { out = deploy(script, dep); });

        it("succeeds", () => assert.equal(out.res.status, 0, out.res.stderr));

        it("submits the Deployment's pod spec with only the documented changes", () => {
            assert.deepEqual(out.fe.spec, expectedSpec(dep));
        });

        it("keeps ConfigMap and Secret volumes and their mounts, the sidecar, the init container and the identity", () => {
            const spec = out.fe.spec;
            assert.deepEqual(spec.volumes.map((v: any) => v.name), ["config", "creds", "cache"]);
            assert.equal(spec.volumes[1].secret.secretName, "demo-fe-creds");
            assert.deepEqual(spec.containers.map((c: any) => c.name), ["envoy", "demo-fe"]);
            assert.equal(spec.containers[0].image, "docker.io/envoyproxy/envoy:v1.34.1", "the sidecar keeps its own image");
            assert.equal(spec.initContainers[0].name, "migrate");
            assert.equal(spec.serviceAccountName, "demo-fe");
            assert.deepEqual(spec.imagePullSecrets, [{ name: "staging-registry" }]);
            assert.equal(spec.securityContext.runAsUser, 10001);
        });

        it("runs the app's own command, never a stand-in", () => {
            const app = out.fe.spec.containers.find((c: any) => c.name === "demo-fe");
            assert.deepEqual(app.command, ["node"]);
            assert.deepEqual(app.args, ["server.js", "--config", "/etc/demo/app.yaml"]);
            assert.equal(app.image, IMAGES["demo-fe"]);
        });

        it("carries the run labels and none of the template's, so no Service or Deployment selector picks it", () => {
            const labels = out.fe.metadata.labels;
            assert.equal(labels["tekton-dag.io/run"], RUN_ID);
            assert.equal(labels["tekton-dag.io/role"], "pr-pod");
            for (const key of Object.keys(dep.spec.template.metadata.labels)) assert.equal(labels[key], undefined, key);
            assert.ok(Object.keys(labels).every((k) => k.startsWith("tekton-dag.io/") || k.startsWith("app.kubernetes.io/part-of") || k === "app.kubernetes.io/managed-by"),
                JSON.stringify(labels));
        });

        it("has no owner-derived or server-set metadata", () => {
            const md = out.fe.metadata;
            for (const field of ["uid", "resourceVersion", "generation", "creationTimestamp", "ownerReferences", "generateName"]) {
                assert.equal(md[field], undefined, field);
            }
            assert.equal(out.fe.status, undefined);
            assert.match(md.name, /^pr-demo-fe-0f8e6c1a$/);
        });

        it("takes no host port for a native sidecar either", () => {
            const sidecar = out.fe.spec.initContainers.find((c: any) => c.name === "log-shipper");
            assert.deepEqual(sidecar.ports, [{ containerPort: 24224, protocol: "TCP" }]);
        });

        it("keeps the template's annotations except Telepresence's, and names the app container", () => {
            const a = out.fe.metadata.annotations;
            assert.equal(a["prometheus.io/scrape"], "true");
            assert.equal(a["telepresence.getambassador.io/inject-traffic-agent"], undefined, "the legacy prefix");
            assert.equal(a["telepresence.io/inject-traffic-agent"], undefined, "the current prefix");
            assert.equal(a["tekton-dag.io/app-container"], "demo-fe");
        });
    });
}

describe("which container is the app's", () => {
    const SCRIPT = "deploy-intercept-mirrord.sh";
    const twoContainers = (names: string[], annotations?: Record<string, string>) => {
        const dep = richDeployment();
        dep.spec.template.spec.containers = names.map((name) => ({ name, image: `registry.local/${name}:1.0` }));
        if (annotations) dep.metadata.annotations = { ...dep.metadata.annotations, ...annotations };
        return dep;
    };
    const appImage = (fe: any) => Object.fromEntries(fe.spec.containers.map((c: any) => [c.name, c.image]));

    it("takes the container the tekton-dag.io/app-container annotation names, even over one named after the app", () => {
        const { res, fe } = deploy(SCRIPT, twoContainers(["demo-fe", "web"], { "tekton-dag.io/app-container": "web" }));
        assert.equal(res.status, 0, res.stderr);
        assert.deepEqual(appImage(fe), { "demo-fe": "registry.local/demo-fe:1.0", web: IMAGES["demo-fe"] });
    });

    it("else takes the container named after the app", () => {
        const { res, fe } = deploy(SCRIPT, twoContainers(["sidecar", "demo-fe"]));
        assert.equal(res.status, 0, res.stderr);
        assert.deepEqual(appImage(fe), { sidecar: "registry.local/sidecar:1.0", "demo-fe": IMAGES["demo-fe"] });
    });

    it("else takes the only container", () => {
        const { res, fe } = deploy(SCRIPT, twoContainers(["web"]));
        assert.equal(res.status, 0, res.stderr);
        assert.deepEqual(appImage(fe), { web: IMAGES["demo-fe"] });
    });

    it("refuses two containers none of which is named after the app, naming them and the annotation, before anything is created", () => {
        const { res } = deploy(SCRIPT, twoContainers(["web", "envoy"]));
        assert.notEqual(res.status, 0);
        assert.match(res.stderr, /cannot tell which container of Deployment staging\/demo-fe runs the app \(containers: web, envoy\)/);
        assert.match(res.stderr, /tekton-dag.io\/app-container=<container>/);
        assert.deepEqual(created(res.calls), [], "nothing created");
    });

    it("refuses an annotation naming no container of the template", () => {
        const { res } = deploy(SCRIPT, twoContainers(["web", "envoy"], { "tekton-dag.io/app-container": "api" }));
        assert.notEqual(res.status, 0);
        assert.match(res.stderr, /annotation tekton-dag.io\/app-container=api, but its pod template has no container of that name \(containers: web, envoy\)/);
        assert.deepEqual(created(res.calls), []);
    });

    it("refuses a template that runs as a tekton-dag ServiceAccount, before anything is created", () => {
        const dep = richDeployment();
        dep.spec.template.spec.serviceAccountName = "tekton-dag-mirrord-proxy";
        const { res } = deploy("deploy-stack-intercepts.sh", dep);
        assert.notEqual(res.status, 0);
        assert.match(res.stderr, /runs as ServiceAccount tekton-dag-mirrord-proxy, a tekton-dag ServiceAccount/);
        assert.deepEqual(created(res.calls), []);
    });

    it("adds the stack's readiness probe only to an app container without one", () => {
        const { res, fe } = deploy(SCRIPT, twoContainers(["web"]));
        assert.equal(res.status, 0, res.stderr);
        assert.deepEqual(fe.spec.containers[0].readinessProbe.tcpSocket, { port: 3000 });
    });
});
