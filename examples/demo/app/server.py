"""The demo staging app of docs/kind.md: one small HTTP server that plays every app of examples/demo/stack.yaml.

GET / answers with the app's name, its pod and VERSION, and, when DOWNSTREAM is set, the answer of the next
app in the chain. The routing header (HEADER, default x-dev-session) and the validation tasks' probe header
are passed on to that call: that is what lets a request carrying `x-dev-session: pr-<n>` reach the PR build
of whichever app a PR changed. Every request is logged with its path, query string and probe header, which
is how validate-stack-propagation and validate-original-traffic tell which pod answered
(docs/stack-file.md, "How routing is validated"). Standard library only.
"""
import json
import os
import socket
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Change this in a PR: the answer shows it, so a request with the PR's header proves it reached the PR build.
VERSION = "staging"

APP = os.environ.get("APP_NAME", "demo")
PORT = int(os.environ.get("PORT", "8080"))
DOWNSTREAM = os.environ.get("DOWNSTREAM", "")
HEADER = os.environ.get("HEADER", "x-dev-session")
PROBE = "x-tekton-dag-probe"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            return self.answer(200, {"app": APP, "ok": True})
        body = {"app": APP, "pod": socket.gethostname(), "version": VERSION, "session": self.headers.get(HEADER, "")}
        if DOWNSTREAM:
            passed = {h: self.headers[h] for h in (HEADER, PROBE) if self.headers.get(h)}
            try:
                with urllib.request.urlopen(urllib.request.Request(DOWNSTREAM, headers=passed), timeout=5) as r:
                    body["downstream"] = json.loads(r.read())
            except (urllib.error.URLError, OSError, ValueError) as err:
                body["downstream"] = {"error": f"{DOWNSTREAM}: {err}"}
                return self.answer(502, body)
        self.answer(200, body)

    def answer(self, status, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        # The access log line, plus the probe header: a downstream app never sees the probe's query string.
        probe = self.headers.get(PROBE, "") if hasattr(self, "headers") else ""
        sys.stderr.write(f"{APP} {self.address_string()} {fmt % args} probe={probe}\n")
        sys.stderr.flush()


if __name__ == "__main__":
    print(f"{APP} {VERSION} listening on :{PORT}, downstream {DOWNSTREAM or 'none'}", flush=True)
    ThreadingHTTPServer(("", PORT), Handler).serve_forever()
