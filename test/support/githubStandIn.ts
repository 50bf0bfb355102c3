// GitHub, simulated: an HTTP server on 127.0.0.1 that takes what pr-comment.sh and commit-status.sh send
// (their curl is real). Each request is held to GitHub's REST API description (./githubApi.ts): a request
// GitHub would refuse gets GitHub's 422 and is kept with its problems. It keeps what the scripts rely on:
// the token's user (GET /user), a PR's comments (list with pages, create, update), commit statuses, and the
// pull requests a test declares (GET .../pulls/{n}: their state, head and base; 404 for any other).
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { requestProblems, successStatus } from "./githubApi";

export interface GitHubRequest { method: string; url: string; authorization: string; body: any; problems: string[] }
export interface StoredComment { id: number; repo: string; issue: number; body: string; user: { login: string } }
/** What a test says about a pull request; the answer has the fields of GitHub's pull-request object the scripts read. */
export interface PullRequest { state: "open" | "closed"; headSha: string; headRepo: string | null; merged?: boolean }

/** The login of the tokens this GitHub knows; a token of a GitHub App installation has none (/user is 403). */
export const BOT_LOGIN = "tekton-dag-bot";

export class GitHubStandIn {
    readonly requests: GitHubRequest[] = [];
    readonly stored: StoredComment[] = [];
    /** Pull requests by "owner/name#number". */
    readonly pulls = new Map<string, PullRequest>();
    /** When set, every request (of `method`, if given) gets this answer instead (a refusal GitHub gives: 401, 403, 404, 422). */
    refuseWith?: { status: number; message: string; method?: string };
    /** Tokens of a GitHub App installation: they cannot read /user, and their comments are the app's. */
    appTokens = false;
    private server?: http.Server;
    private base = "";
    private nextId = 1000;

    /** Starts the server; returns its base URL (the github-api-url of the runs). */
    async start(): Promise<string> {
        this.server = http.createServer((req, res) => {
            let data = "";
            req.on("data", (d) => (data += d));
            req.on("end", () => {
                let body: any = null;
                try { body = JSON.parse(data || "null"); } catch { body = data; }
                const problems = requestProblems(req.method!, req.url!, req.method === "GET" ? undefined : body);
                this.requests.push({ method: req.method!, url: req.url!, authorization: String(req.headers.authorization ?? ""), body, problems });
                const answer = (status: number, json: unknown) => {
                    res.writeHead(status, { "content-type": "application/json" });
                    res.end(JSON.stringify(json));
                };
                if (this.refuseWith && (!this.refuseWith.method || this.refuseWith.method === req.method)) return answer(this.refuseWith.status, { message: this.refuseWith.message, documentation_url: "https://docs.github.com/rest" });
                if (problems.length) return answer(422, { message: "Validation Failed", errors: problems });
                const [pathPart, query] = req.url!.split("?");
                const login = this.appTokens ? "tekton-dag-app[bot]" : BOT_LOGIN;
                if (req.method === "GET" && pathPart === "/user") {
                    return this.appTokens ? answer(403, { message: "Resource not accessible by integration" }) : answer(200, { login, type: "User" });
                }
                const pull = /^\/repos\/([^/]+\/[^/]+)\/pulls\/(\d+)$/.exec(pathPart);
                if (pull && req.method === "GET") {
                    const pr = this.pulls.get(`${pull[1]}#${pull[2]}`);
                    if (!pr) return answer(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest/pulls/pulls#get-a-pull-request" });
                    const repo = (fullName: string) => ({ full_name: fullName, name: fullName.split("/")[1], owner: { login: fullName.split("/")[0] } });
                    return answer(200, {
                        number: Number(pull[2]), state: pr.state, merged: pr.merged ?? false,
                        head: { sha: pr.headSha, ref: "topic", repo: pr.headRepo === null ? null : repo(pr.headRepo) },
                        base: { sha: "0".repeat(40), ref: "main", repo: repo(pull[1]) },
                    });
                }
                const list = /^\/repos\/([^/]+\/[^/]+)\/issues\/(\d+)\/comments$/.exec(pathPart);
                if (list && req.method === "GET") {
                    const q = new URLSearchParams(query ?? "");
                    const per = Number(q.get("per_page") ?? 30);
                    const page = Number(q.get("page") ?? 1);
                    const all = this.stored.filter((c) => c.repo === list[1] && c.issue === Number(list[2]));
                    return answer(200, all.slice((page - 1) * per, page * per));
                }
                if (list && req.method === "POST") {
                    const c = { id: this.nextId++, repo: list[1], issue: Number(list[2]), body: body.body, user: { login } };
                    this.stored.push(c);
                    return answer(201, { ...c, html_url: `https://github.example/${c.repo}/pull/${c.issue}#issuecomment-${c.id}` });
                }
                const one = /^\/repos\/([^/]+\/[^/]+)\/issues\/comments\/(\d+)$/.exec(pathPart);
                if (one && req.method === "PATCH") {
                    const c = this.stored.find((x) => x.repo === one[1] && x.id === Number(one[2]));
                    if (!c) return answer(404, { message: "Not Found" });
                    c.body = body.body;
                    return answer(200, { ...c, html_url: `https://github.example/${c.repo}/pull/${c.issue}#issuecomment-${c.id}` });
                }
                return answer(successStatus(req.method!, req.url!), { id: this.nextId++ });
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

    /** A comment someone else (or the bot, earlier) wrote on the PR. */
    seedComment(repo: string, issue: number, login: string, body: string): StoredComment {
        const c = { id: this.nextId++, repo, issue, body, user: { login } };
        this.stored.push(c);
        return c;
    }

    /** Requests GitHub's description refuses: none is expected of the scripts. */
    invalid(): GitHubRequest[] {
        return this.requests.filter((r) => r.problems.length > 0);
    }

    /** The comments PR `number` of `repo` has now, oldest first. */
    comments(repo: string, number: number | string): StoredComment[] {
        return this.stored.filter((c) => c.repo === repo && c.issue === Number(number));
    }

    /** The requests that wrote comments of the PR or of its comments (POST and PATCH), in order. */
    commentWrites(repo: string, number: number | string): GitHubRequest[] {
        const ids = new Set(this.comments(repo, number).map((c) => String(c.id)));
        return this.requests.filter((r) => (r.method === "POST" && r.url === `/repos/${repo}/issues/${number}/comments`)
            || (r.method === "PATCH" && ids.has(r.url.split("/").pop()!) && r.url.startsWith(`/repos/${repo}/issues/comments/`)));
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
