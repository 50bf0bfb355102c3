// GitHub, simulated: an HTTP server on 127.0.0.1 that takes what pr-comment.sh posts (curl is real) and
// answers as GitHub does for a created comment. Every request is kept for the test to read.
import * as http from "node:http";
import { AddressInfo } from "node:net";

export interface GitHubRequest { method: string; url: string; authorization: string; body: any }

export class GitHubStandIn {
    readonly requests: GitHubRequest[] = [];
    private server?: http.Server;
    private base = "";

    /** Starts the server; returns its base URL (the github-api-url of the runs). */
    async start(): Promise<string> {
        this.server = http.createServer((req, res) => {
            let data = "";
            req.on("data", (d) => (data += d));
            req.on("end", () => {
                let body: any = null;
                try { body = JSON.parse(data || "null"); } catch { body = data; }
                this.requests.push({ method: req.method!, url: req.url!, authorization: String(req.headers.authorization ?? ""), body });
                res.writeHead(201, { "content-type": "application/json" });
                res.end(JSON.stringify({ id: this.requests.length, html_url: `https://github.example${req.url}#issuecomment-${this.requests.length}` }));
            });
        });
        await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
        this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
        return this.base;
    }

    get url(): string {
        if (!this.base) throw new Error("the GitHub stand-in has not been started");
        return this.base;
    }

    /** The comments posted on PR `number` of `repo`, in order. */
    comments(repo: string, number: number | string): GitHubRequest[] {
        return this.requests.filter((r) => r.method === "POST" && r.url === `/repos/${repo}/issues/${number}/comments`);
    }

    async stop(): Promise<void> {
        await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    }
}
