// The PR pod both deploy tasks create is the app's own pod: the Deployment's whole pod template with only
// the app container's image replaced, the changes docs/stack-file.md lists, and nothing else. The template
// is a real Deployment; the scripts run as tekton-dag-pipeline; the assertions read the pod the API server
// stored. Simulated: the proxy pods' containers (mirrord and Telepresence CLIs, test/cluster/standins.ts).
import { strict as assert } from "node:assert";
import { apply, installApps, installRbac, newRun, PIPELINE_SA, purgeRunObjects, Run, runScriptAs, ScriptRun, TARGET_NS } from "../harness";
import { ProxyPods } from "../standins";
import {
    assertNothingCreated, builtImage, envOf, getPods, mark, one, putDeployments, remove, storedDeployment, withoutPodDefaults,
} from "./pr-pod-fixtures";

const SCRIPTS = ["deploy-intercept-mirrord.sh", "deploy-stack-intercepts.sh"];
const APP = "pp-fe";
const APPS = [{ name: APP, containerPort: 3000 }];
const NODE = "kwok-node-0";

/** A Deployment as real apps have them: a ConfigMap and a Secret mounted, a sidecar, init containers (one a native sidecar), its own identity. */
function richDeployment(): any {
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: APP, namespace: TARGET_NS, labels: { app: APP } },
        spec: {
            replicas: 1,
            selector: { matchLabels: { app: APP } },
            template: {
                metadata: {
                    // tier is not in the Deployment's selector, but the app's Service may well select on it.
                    labels: { app: APP, tier: "web", "app.kubernetes.io/name": APP },
                    annotations: {
                        "prometheus.io/scrape": "true",
                        "kubectl.kubernetes.io/restartedAt": "2026-11-30T10:00:00Z",
                        "telepresence.getambassador.io/inject-traffic-agent": "enabled",
                        "telepresence.io/inject-traffic-agent": "enabled",
                    },
                },
                spec: {
                    serviceAccountName: APP,
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
                        // type=kwok: the simulated node's label (a real app would name its own node pool).
                        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "type", operator: "In", values: ["kwok"] }] }] } },
                        podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: APP } }, topologyKey: "kubernetes.io/hostname" }] },
                    },
                    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: APP } } }],
                    volumes: [
                        { name: "config", configMap: { name: "pp-fe-config", defaultMode: 420 } },
                        { name: "creds", secret: { secretName: "pp-fe-creds", defaultMode: 256 } },
                        { name: "cache", emptyDir: {} },
                    ],
                    initContainers: [{
                        name: "migrate", image: "registry.local/pp-fe-migrate:1.0", command: ["/migrate", "--config", "/etc/demo/app.yaml"],
                        volumeMounts: [{ name: "config", mountPath: "/etc/demo" }],
                    }, {
                        // A native sidecar (restartPolicy Always): it runs beside the app. (A hostPort is refused:
                        // pr-pod-checks.test.ts.)
                        name: "log-shipper", image: "registry.local/log-shipper:2.0", restartPolicy: "Always",
                        ports: [{ containerPort: 24224, protocol: "TCP" }],
                    }],
                    containers: [
                        {
                            name: "envoy", image: "docker.io/envoyproxy/envoy:v1.34.1", args: ["-c", "/etc/envoy/envoy.yaml"],
                            ports: [{ containerPort: 9901, name: "admin", protocol: "TCP" }],
                            resources: { requests: { cpu: "50m", memory: "64Mi" } },
                        },
                        {
                            name: APP, image: "registry.local/pp-fe:1.0", imagePullPolicy: "IfNotPresent",
                            command: ["node"], args: ["server.js", "--config", "/etc/demo/app.yaml"],
                            ports: [{ containerPort: 3000, name: "http", protocol: "TCP" }],
                            env: [{ name: "API_URL", value: "http://demo-api.staging" }, { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
                            envFrom: [{ secretRef: { name: "pp-fe-env" } }],
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
    };
}

/** The pod spec the docs promise for the stored Deployment: its template's, with only the listed changes. */
function expectedSpec(dep: any, image: string): any {
    const spec = structuredClone(dep.spec.template.spec);
    spec.restartPolicy = "Never";
    delete spec.topologySpreadConstraints;
    delete spec.affinity.podAntiAffinity;
    const app = spec.containers.find((c: any) => c.name === APP);
    app.image = image;
    return spec;
}

let proxies: ProxyPods;

interface Deployed { r: ScriptRun; run: Run; env: Record<string, string>; fe?: any }

async function deploy(script: string): Promise<Deployed> {
    const run = newRun("pp");
    const env = envOf(run, APPS);
    const r = await runScriptAs(script, env, PIPELINE_SA);
    const fe = r.status === 0 ? one(run, "pods", APP, "pr-pod") : undefined;
    return { r, run, env, fe };
}

describe("cluster: the PR pod is the app's pod (a real Deployment; proxy containers simulated)", function () {
    this.timeout(300_000);

    before(async () => {
        await installRbac();
        installApps(); // the traffic-manager Service the Telepresence proxy looks up
        apply([{ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: APP, namespace: TARGET_NS } }]);
        proxies = new ProxyPods();
        proxies.start();
    });
    after(async () => {
        await proxies?.stop();
        await purgeRunObjects();
        remove([`deployment/${APP}`, `serviceaccount/${APP}`]);
    });

    for (const script of SCRIPTS) {
        describe(`${script}`, () => {
            let out: Deployed;
            let dep: any;
            before(async () => {
                putDeployments([richDeployment()]);
                dep = storedDeployment(APP);
                out = await deploy(script);
            });
            after(() => purgeRunObjects());

            it("succeeds: the PR pod is scheduled beside the app's own pod and becomes Ready", () => {
                assert.equal(out.r.status, 0, out.r.stderr);
                assert.equal(out.fe.spec.nodeName, NODE);
                assert.equal(getPods(`app=${APP}`).filter((p) => p.status.phase === "Running").length, 1, "the Deployment's own pod runs on the same node");
            });

            it("is stored with the Deployment's pod spec and only the documented changes", () => {
                assert.deepEqual(withoutPodDefaults(out.fe.spec), withoutPodDefaults(expectedSpec(dep, builtImage(out.env, APP))));
            });

            it("keeps ConfigMap and Secret volumes and their mounts, the sidecar, the init container and the identity", () => {
                const spec = withoutPodDefaults(out.fe.spec);
                assert.deepEqual(spec.volumes.map((v: any) => v.name), ["config", "creds", "cache"]);
                assert.equal(spec.volumes[1].secret.secretName, "pp-fe-creds");
                assert.deepEqual(spec.containers.map((c: any) => c.name), ["envoy", APP]);
                assert.equal(spec.containers[0].image, "docker.io/envoyproxy/envoy:v1.34.1", "the sidecar keeps its own image");
                assert.deepEqual(spec.containers[1].volumeMounts.map((m: any) => m.mountPath), ["/etc/demo", "/var/run/creds", "/cache"]);
                assert.equal(spec.initContainers[0].name, "migrate");
                assert.equal(spec.serviceAccountName, APP);
                assert.deepEqual(spec.imagePullSecrets, [{ name: "staging-registry" }]);
                assert.equal(spec.securityContext.runAsUser, 10001);
            });

            it("runs the app's own command, never a stand-in", () => {
                const app = out.fe.spec.containers.find((c: any) => c.name === APP);
                assert.deepEqual(app.command, ["node"]);
                assert.deepEqual(app.args, ["server.js", "--config", "/etc/demo/app.yaml"]);
                assert.equal(app.image, builtImage(out.env, APP));
            });

            it("carries the run labels and none of the template's, so neither the Deployment's selector nor its ReplicaSet picks it", () => {
                const labels = out.fe.metadata.labels;
                assert.equal(labels["tekton-dag.io/run"], out.run.id);
                assert.equal(labels["tekton-dag.io/role"], "pr-pod");
                for (const key of Object.keys(dep.spec.template.metadata.labels)) assert.equal(labels[key], undefined, key);
                assert.ok(Object.keys(labels).every((k) => k.startsWith("tekton-dag.io/") || k.startsWith("app.kubernetes.io/part-of") || k === "app.kubernetes.io/managed-by"),
                    JSON.stringify(labels));
                assert.ok(!getPods(`app=${APP}`).some((p) => p.metadata.name === out.fe.metadata.name), "the Deployment's selector does not select it");
            });

            it("is a pod of its own: no owner, no generateName, its own uid", () => {
                const md = out.fe.metadata;
                assert.equal(md.ownerReferences, undefined, "not owned by (nor adopted into) the ReplicaSet");
                assert.equal(md.generateName, undefined);
                assert.notEqual(md.uid, dep.metadata.uid);
                assert.match(md.name, new RegExp(`^pr-${APP}-${out.run.id.slice(0, 8)}$`));
            });

            it("keeps the template's annotations except Telepresence's, and names the app container", () => {
                const a = out.fe.metadata.annotations;
                assert.equal(a["prometheus.io/scrape"], "true");
                assert.equal(a["kubectl.kubernetes.io/restartedAt"], "2026-11-30T10:00:00Z");
                assert.equal(a["telepresence.getambassador.io/inject-traffic-agent"], undefined, "the legacy prefix");
                assert.equal(a["telepresence.io/inject-traffic-agent"], undefined, "the current prefix");
                assert.equal(a["tekton-dag.io/app-container"], APP);
            });
        });
    }

    describe("which container is the app's (deploy-intercept-mirrord.sh unless named)", () => {
        const SCRIPT = "deploy-intercept-mirrord.sh";
        afterEach(() => purgeRunObjects());

        /** pp-fe with only these containers (no ports, no probes) and the annotations added. */
        const containers = (names: string[], annotations?: Record<string, string>) => {
            const dep = richDeployment();
            dep.spec.template.spec.containers = names.map((name) => ({ name, image: `registry.local/${name}:1.0` }));
            if (annotations) dep.metadata.annotations = annotations;
            return dep;
        };
        const images = (fe: any) => Object.fromEntries(fe.spec.containers.map((c: any) => [c.name, c.image]));

        const deployed = async (dep: any, script = SCRIPT) => {
            putDeployments([dep]);
            const out = await deploy(script);
            assert.equal(out.r.status, 0, out.r.stderr);
            return out;
        };
        const refused = async (dep: any, script = SCRIPT) => {
            putDeployments([dep], false);
            const since = mark();
            const out = await deploy(script);
            assertNothingCreated(out.r, out.run, since);
            return out.r;
        };

        it("takes the container the tekton-dag.io/app-container annotation names, even over one named after the app", async () => {
            const out = await deployed(containers([APP, "web"], { "tekton-dag.io/app-container": "web" }));
            assert.deepEqual(images(out.fe), { [APP]: `registry.local/${APP}:1.0`, web: builtImage(out.env, APP) });
        });

        it("else takes the container named after the app", async () => {
            const out = await deployed(containers(["sidecar", APP]));
            assert.deepEqual(images(out.fe), { sidecar: "registry.local/sidecar:1.0", [APP]: builtImage(out.env, APP) });
        });

        it("else takes the only container, adding the stack's readiness probe as it has none", async () => {
            const out = await deployed(containers(["web"]));
            assert.deepEqual(images(out.fe), { web: builtImage(out.env, APP) });
            assert.deepEqual(out.fe.spec.containers[0].readinessProbe.tcpSocket, { port: 3000 });
        });

        it("refuses two containers none of which is named after the app, naming them and the annotation; nothing is created", async () => {
            const r = await refused(containers(["web", "envoy"]));
            assert.match(r.stderr, new RegExp(`cannot tell which container of Deployment staging/${APP} runs the app \\(containers: web, envoy\\)`));
            assert.match(r.stderr, /tekton-dag.io\/app-container=<container>/);
        });

        it("refuses an annotation naming no container of the template; nothing is created", async () => {
            const r = await refused(containers(["web", "envoy"], { "tekton-dag.io/app-container": "api" }));
            assert.match(r.stderr, /annotation tekton-dag.io\/app-container=api, but its pod template has no container of that name \(containers: web, envoy\)/);
        });

        it("refuses a template that runs as a tekton-dag ServiceAccount (deploy-stack-intercepts.sh); nothing is created", async () => {
            const dep = richDeployment();
            dep.spec.template.spec.serviceAccountName = "tekton-dag-mirrord-proxy";
            const r = await refused(dep, "deploy-stack-intercepts.sh");
            assert.match(r.stderr, /runs as ServiceAccount tekton-dag-mirrord-proxy, a tekton-dag ServiceAccount/);
        });
    });
});
