import * as fs from "node:fs";
import * as https from "node:https";
import * as YAML from "yaml";

/**
 * Reads of the local API server by the test process itself, over HTTPS with the kubeconfig's client
 * certificate, for the loops that poll (has the PipelineRun ended? which step pods must the runner end?).
 * Spawning kubectl for each poll cost a tenth of a second of CPU four times a second per loop (on two cores,
 * most of one, taken from the controllers under test) and, being synchronous, stopped the test process's own
 * servers (the sink's client, the GitHub stand-in) for every call. Only the tests' own view goes through
 * here: the task scripts under test keep running their real kubectl as their ServiceAccount.
 */
export class KubeApi {
    private readonly server: URL;
    private readonly agent: https.Agent;

    constructor(kubeconfig: string) {
        const kc = YAML.parse(fs.readFileSync(kubeconfig, "utf8"));
        const context = kc.contexts.find((c: any) => c.name === kc["current-context"])?.context ?? kc.contexts[0].context;
        const cluster = kc.clusters.find((c: any) => c.name === context.cluster).cluster;
        const user = kc.users.find((u: any) => u.name === context.user).user;
        const pem = (file?: string, data?: string) => (data ? Buffer.from(data, "base64") : file ? fs.readFileSync(file) : undefined);
        this.server = new URL(cluster.server);
        this.agent = new https.Agent({
            keepAlive: true,
            ca: pem(cluster["certificate-authority"], cluster["certificate-authority-data"]),
            cert: pem(user["client-certificate"], user["client-certificate-data"]),
            key: pem(user["client-key"], user["client-key-data"]),
        });
    }

    /** GET of an API path (e.g. /api/v1/namespaces/x/pods?labelSelector=...): the object, or undefined when it is not there. */
    get(path: string): Promise<any | undefined> {
        return new Promise((resolve, reject) => {
            const req = https.request({ host: this.server.hostname, port: this.server.port, path, method: "GET", agent: this.agent,
                headers: { accept: "application/json" } }, (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => {
                    const body = Buffer.concat(chunks).toString("utf8");
                    if (res.statusCode === 404) resolve(undefined);
                    else if (res.statusCode !== 200) reject(new Error(`GET ${path}: HTTP ${res.statusCode}: ${body.slice(0, 500)}`));
                    else resolve(JSON.parse(body));
                });
                res.on("error", reject);
            });
            req.on("error", reject);
            req.end();
        });
    }

    /** The items of a list path, selected by a label selector. */
    async list(path: string, labelSelector?: string): Promise<any[]> {
        const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : "";
        return (await this.get(`${path}${query}`))?.items ?? [];
    }

    /** Closes the kept-alive connections, so that the test process can end. */
    close(): void {
        this.agent.destroy();
    }
}
