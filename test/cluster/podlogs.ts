// Pod logs on the local cluster: no container runs, so the test says what a pod's containers logged. kwok
// plays the kubelet's log endpoint (scripts/cluster.sh): for a pod with a kwok `Logs` object of the same
// name, `kubectl logs` goes through the API server (RBAC on pods/log included) to kwok, which reads the
// file that object names. The file is in the CRI log format, so `--since`, `--tail` and `--timestamps`
// behave as on a real node.
import * as fs from "node:fs";
import * as path from "node:path";
import { ADMIN_KUBECONFIG, kubectl, kubectlOk, sleep } from "./harness";

/** Where cluster.sh lets kwok read the tests' log files (emptied on each start). */
export const POD_LOGS_DIR = path.join(path.dirname(ADMIN_KUBECONFIG), "pod-logs");

export class PodLog {
    private constructor(readonly namespace: string, readonly pod: string, readonly file: string) {}

    /**
     * Serves the pod's logs (every container) from a new, empty file. The Logs object is owned by the pod,
     * so the garbage collector removes it with the pod; detach() removes it at once.
     */
    static async attach(namespace: string, pod: string): Promise<PodLog> {
        const uid = kubectlOk(["get", "pod", pod, "-n", namespace, "-o", "jsonpath={.metadata.uid}"]).trim();
        const file = path.join(POD_LOGS_DIR, namespace, `${pod}.log`);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, "");
        kubectlOk(["apply", "--server-side", "--field-manager", "tekton-dag-tests", "-f", "-"], JSON.stringify({
            apiVersion: "kwok.x-k8s.io/v1alpha1", kind: "Logs",
            metadata: { name: pod, namespace, ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: pod, uid }] },
            spec: { logs: [{ logsFile: file }] },
        }));
        // kwok learns of the object through a watch (whose first list may still be backing off right after
        // the cluster started): wait until the API server's proxy reaches the file.
        const deadline = Date.now() + 30_000;
        for (;;) {
            const r = kubectl(["logs", pod, "-n", namespace, "--all-containers=true"]);
            if (r.status === 0) break;
            if (Date.now() > deadline) throw new Error(`kwok does not serve the logs of ${namespace}/${pod}: ${r.stderr.trim()}`);
            await sleep(100);
        }
        return new PodLog(namespace, pod, file);
    }

    /** Appends lines the container wrote to `stream` at time `at` (what `--since` compares). */
    write(lines: string | string[], at = new Date(), stream: "stdout" | "stderr" = "stdout"): void {
        const text = ([] as string[]).concat(lines).map((l) => `${at.toISOString()} ${stream} F ${l}\n`).join("");
        fs.appendFileSync(this.file, text);
    }

    /** Stops serving the pod's logs: kwok then answers as a node that has none for it. */
    detach(): void {
        kubectl(["delete", "logs.kwok.x-k8s.io", this.pod, "-n", this.namespace, "--ignore-not-found", "--wait=false"]);
        fs.rmSync(this.file, { force: true });
    }
}
