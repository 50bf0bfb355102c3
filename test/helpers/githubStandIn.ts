// GitHub, simulated: an HTTP server on 127.0.0.1 that takes what pr-comment.sh and commit-status.sh send
// (their curl is real). Each request is held to GitHub's REST API description (test/helpers/githubApi.ts):
// a request GitHub would refuse gets GitHub's 422 and is kept with its problems; a valid one gets the
// documented success status. Every request is kept for the test to read.
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { requestProblems, successStatus } from "./githubApi";

export interface GitHubRequest { method: string; url: string; authorization: string; body: any; problems: string[] }

export class GitHubStandIn {
    readonly requests: GitHubRequest[] = [];
    /** When set, every request gets this answer instead (a refusal GitHub gives: 401, 403, 404, 422). */
    refuseWith?: { status: number; message: string };
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
                const problems = requestProblems(req.method!, req.url!, body);
                this.requests.push({ method: req.method!, url: req.url!, authorization: String(req.headers.authorization ?? ""), body, problems });
                if (this.refuseWith) {
                    res.writeHead(this.refuseWith.status, { "content-type": "application/json" });
                    res.end(JSON.stringify({ message: this.refuseWith.message, documentation_url: "https://docs.github.com/rest" }));
                    return;
                }
                res.writeHead(problems.length ? 422 : successStatus(req.method!, req.url!), { "content-type": "application/json" });
                res.end(JSON.stringify(problems.length
                    ? { message: "Validation Failed", errors: problems }
                    : { id: this.requests.length, html_url: `https://github.example${req.url}#${this.requests.length}` }));
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

    /** Requests GitHub's description refuses: none is expected of the scripts. */
    invalid(): GitHubRequest[] {
        return this.requests.filter((r) => r.problems.length > 0);
    }

    /** The comments posted on PR `number` of `repo`, in order. */
    comments(repo: string, number: number | string): GitHubRequest[] {
        return this.requests.filter((r) => r.method === "POST" && r.url === `/repos/${repo}/issues/${number}/comments`);
    }

    /** The commit statuses set on `sha` of `repo`, in order: their states and descriptions. */
    statuses(repo: string, sha: string): Array<{ state: string; description: string; context: string }> {
        return this.requests.filter((r) => r.method === "POST" && r.url === `/repos/${repo}/statuses/${sha}`)
            .map((r) => ({ state: r.body.state, description: r.body.description, context: r.body.context }));
    }

    async stop(): Promise<void> {
        await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    }
}
