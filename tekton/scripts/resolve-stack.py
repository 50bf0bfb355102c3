#!/usr/bin/env python3
"""resolve-stack, step 2 (image python, standard library only).

Reads the stack file that step 1 turned into JSON, checks it, and writes the resolved graph
(docs/stack-file.md, docs/conventions.md "The resolved stack graph"):

  $SHARED_WORKSPACE/.tekton-dag/runs/$RUN_ID/stack.json
  $SHARED_WORKSPACE/.tekton-dag/runs/$RUN_ID/app-list.txt            (space-separated)
  $SHARED_WORKSPACE/.tekton-dag/runs/$RUN_ID/propagation-chain.txt   (space-separated)

and the task results next to $STACK_JSON_RESULT (the path of the stack-json result).

env: PARSED_JSON, STACK_FILE, PR_NUMBER, RUN_ID, SHARED_WORKSPACE, STACK_JSON_RESULT,
     CHANGED_APP and REPO_FULL_NAME (at least one; the changed app is CHANGED_APP, or else the one app whose
     repo is REPO_FULL_NAME), DEFAULT_NAMESPACE (used when the stack has no defaults.namespace).

Every rejection names the field or app at fault and what is allowed, and exits 1.
"""

import hashlib
import heapq
import json
import os
import re
import sys
from collections import Counter

ALLOWED_TOOLS = ("npm", "maven", "gradle", "pip", "composer")
PROPAGATION_ROLES = ("originator", "forwarder", "terminal")
# Deployment and Service are named after the app, so app names must be DNS-1123 labels.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# RFC 9110 field-name token.
HEADER_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
REPO_SHORT = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
RUN_ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")
# Tekton passes a step's results in its termination message, 4096 bytes in all.
TERMINATION_MESSAGE_BYTES = 4096
# A long cycle is shown by its first and last this many apps.
CYCLE_SHOWN = 10
# An error that lists apps with their repositories shows at most this many.
APPS_SHOWN = 20


class StackError(Exception):
    pass


def fail(message):
    raise StackError(message)


def env(name, required=True):
    value = os.environ.get(name, "")
    if required and value == "":
        fail(f"environment variable {name} is required (set it from the task param through env)")
    return value


def no_duplicate_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            fail(f"duplicate key '{key}' in one mapping of the stack file")
        seen[key] = value
    return seen


def load_parsed(path, stack_file):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    decoder = json.JSONDecoder(object_pairs_hook=no_duplicate_keys)
    text = text.strip()
    try:
        document, end = decoder.raw_decode(text)
    except json.JSONDecodeError as error:
        fail(f"stack-file '{stack_file}' could not be read as a YAML document: {error}")
    except RecursionError:
        fail(f"stack-file '{stack_file}' nests mappings or lists too deeply to read; a stack file is a few levels deep")
    if text[end:].strip():
        fail(f"stack-file '{stack_file}' holds more than one YAML document; a stack file is one document")
    if document is None:
        fail(f"stack-file '{stack_file}' is empty")
    if not isinstance(document, dict):
        fail(f"stack-file '{stack_file}' must be a mapping with 'name', 'propagation' and 'apps', not a {type(document).__name__}")
    return document


def text_field(mapping, key, where, required=False, default=""):
    if key not in mapping or mapping[key] is None:
        if required:
            fail(f"{where}: field '{key}' is required")
        return default
    value = mapping[key]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        fail(f"{where}: field '{key}' must be a string, not {json.dumps(value)}")
    value = str(value).strip()
    if required and value == "":
        fail(f"{where}: field '{key}' must not be empty")
    return value


def port_field(mapping, key, where, default):
    if key not in mapping or mapping[key] is None or mapping[key] == "":
        return default
    value = mapping[key]
    text = str(value).strip() if not isinstance(value, bool) else ""
    if not re.fullmatch(r"[0-9]{1,5}", text) or not 1 <= int(text) <= 65535:
        fail(f"{where}: field '{key}' must be a port number 1-65535, not {json.dumps(value)}")
    return int(text)


def namespace_field(mapping, key, where, default):
    value = text_field(mapping, key, where, default=default)
    if not DNS_LABEL.match(value):
        fail(f"{where}: field '{key}' must be a Kubernetes namespace name (DNS-1123 label), not '{value}'")
    return value


def repo_url(value, where):
    if REPO_SHORT.match(value):
        return f"https://github.com/{value}.git"
    if re.match(r"^(https?|ssh|git)://", value) or re.match(r"^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:", value):
        return value
    fail(f"{where}: field 'repo' must be 'owner/name' or a full git URL, not '{value}'")


def repo_full_name(url):
    """owner/name of a repo URL as repo_url() writes it: the last two path segments, without .git."""
    path = re.sub(r"^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:", "", re.sub(r"^[a-z]+://[^/]+/", "", url))
    segments = [p for p in path.split("/") if p]
    if segments:
        segments[-1] = re.sub(r"\.git$", "", segments[-1])
    return "/".join(segments[-2:])


def select_changed_app(stack_name, apps, changed_app, repo_name):
    """The app the PR changed: changed_app if given (its repo must be repo_name when both are given), else the
    one app whose repo is repo_name. GitHub compares owner and repository names case-insensitively."""
    if repo_name and not REPO_SHORT.match(repo_name):
        fail(f"repo-full-name '{repo_name}' must be a GitHub owner/name (the webhook's repository.full_name)")
    wanted = repo_name.lower()
    in_repo = [n for n, app in apps.items() if wanted and repo_full_name(app["repo"]).lower() == wanted]
    if changed_app:
        if changed_app not in apps:
            fail(f"changed-app '{changed_app}' is not an app of stack '{stack_name}' (apps: {', '.join(apps)})")
        if wanted and changed_app not in in_repo:
            fail(f"changed-app '{changed_app}' of stack '{stack_name}' lives in {repo_full_name(apps[changed_app]['repo'])},"
                 f" not in repo-full-name '{repo_name}', the repository of the PR")
        return changed_app
    if not wanted:
        fail("changed-app and repo-full-name are both empty: name the app (changed-app) or the PR's repository"
             " (repo-full-name, owner/name)")
    if not in_repo:
        shown = [f"{n} ({repo_full_name(app['repo'])})" for n, app in list(apps.items())[:APPS_SHOWN]]
        more = f" and {len(apps) - APPS_SHOWN} more" if len(apps) > APPS_SHOWN else ""
        fail(f"repository '{repo_name}' holds no app of stack '{stack_name}' (apps and their repositories: {', '.join(shown)}{more});"
             " add the app to the stack file, or remove the webhook from that repository")
    if len(in_repo) > 1:
        fail(f"repository '{repo_name}' holds {len(in_repo)} apps of stack '{stack_name}': {', '.join(in_repo)}; a run tests"
             " one app and a webhook cannot choose: start one run per app with changed-app set (docs/webhook.md,"
             " \"A repository with several apps\")")
    return in_repo[0]


def find_cycle(names, edges):
    """Return one cycle as a list of names (first repeated at the end), or None.

    Depth-first with an explicit stack, so a call chain of any depth is fine (a recursive walk stops at
    Python's recursion limit, about 1000 apps deep)."""
    white, grey, black = 0, 1, 2
    colour = {name: white for name in names}
    for root in names:
        if colour[root] != white:
            continue
        colour[root] = grey
        path = [root]
        position = {root: 0}
        pending = [iter(edges[root])]
        while pending:
            nxt = next(pending[-1], None)
            if nxt is None:
                done = path.pop()
                del position[done]
                colour[done] = black
                pending.pop()
            elif colour[nxt] == grey:
                return path[position[nxt]:] + [nxt]
            elif colour[nxt] == white:
                colour[nxt] = grey
                position[nxt] = len(path)
                path.append(nxt)
                pending.append(iter(edges[nxt]))
    return None


def describe_cycle(cycle, shown=CYCLE_SHOWN):
    """The cycle as 'a -> b -> ... -> a', its middle left out when it is long."""
    if len(cycle) <= 2 * shown:
        return " -> ".join(cycle)
    hidden = len(cycle) - 2 * shown
    return (f"{' -> '.join(cycle[:shown])} -> ... -> {' -> '.join(cycle[-shown:])}"
            f" ({hidden} apps not shown)")


def topological(names, edges, index, first):
    """Kahn's algorithm; ties broken by declaration order, `first` ahead of everything."""
    indegree = {name: 0 for name in names}
    for name in names:
        for nxt in edges[name]:
            indegree[nxt] += 1

    def priority(name):
        return (-1 if name == first else index[name], name)

    ready = [priority(name) for name in names if indegree[name] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for nxt in edges[name]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, priority(nxt))
    return order


def reachable(start, edges):
    seen = {start}
    todo = [start]
    while todo:
        node = todo.pop()
        for nxt in edges[node]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def resolve(stack, stack_file, changed_app, repo_name, pr_number, default_namespace):
    name = text_field(stack, "name", "stack", required=True)

    if not re.fullmatch(r"[0-9]+", pr_number) or int(pr_number) == 0:
        fail(f"pr-number '{pr_number}' must be a positive whole number (digits only)")
    pr_number = str(int(pr_number))

    propagation = stack.get("propagation")
    if not isinstance(propagation, dict):
        fail(f"stack '{name}': field 'propagation.header-name' is required (the header that routes requests to PR pods)")
    header_name = text_field(propagation, "header-name", f"stack '{name}': propagation")
    if header_name == "":
        fail(f"stack '{name}': field 'propagation.header-name' is required (the header that routes requests to PR pods)")
    if not HEADER_TOKEN.match(header_name):
        fail(f"stack '{name}': propagation.header-name '{header_name}' is not a valid HTTP header name (letters, digits and !#$%&'*+.^_`|~-)")

    defaults = stack.get("defaults") or {}
    if not isinstance(defaults, dict):
        fail(f"stack '{name}': field 'defaults' must be a mapping")
    default_ns = namespace_field(defaults, "namespace", f"stack '{name}': defaults", default_namespace or "staging")
    default_container_port = port_field(defaults, "container-port", f"stack '{name}': defaults", 8080)
    default_service_port = port_field(defaults, "service-port", f"stack '{name}': defaults", 80)
    default_readiness = text_field(defaults, "readiness-path", f"stack '{name}': defaults")

    raw_apps = stack.get("apps")
    if not isinstance(raw_apps, list) or not raw_apps:
        fail(f"stack '{name}': field 'apps' must be a non-empty list of apps")

    apps = {}
    index = {}
    for position, raw in enumerate(raw_apps):
        where = f"stack '{name}': apps[{position}]"
        if not isinstance(raw, dict):
            fail(f"{where} must be a mapping with name, repo and build")
        app_name = text_field(raw, "name", where, required=True)
        where = f"stack '{name}': app '{app_name}'"
        if app_name in index:
            fail(f"stack '{name}': duplicate app name '{app_name}' (apps[{index[app_name]}] and apps[{position}]); app names must be unique")
        if not DNS_LABEL.match(app_name):
            fail(f"{where}: field 'name' must be a DNS-1123 label (lowercase letters, digits, '-', at most 63), because its Deployment and Service carry that name")
        index[app_name] = position

        build = raw.get("build")
        if not isinstance(build, dict):
            fail(f"{where}: field 'build' with 'tool' is required (one of {', '.join(ALLOWED_TOOLS)})")
        tool = text_field(build, "tool", f"{where}: build")
        if tool not in ALLOWED_TOOLS:
            shown = f"'{tool}'" if tool else "missing"
            fail(f"{where}: build.tool {shown} is not supported (allowed: {', '.join(ALLOWED_TOOLS)})")
        build_out = {"tool": tool}
        for key, value in build.items():
            if key != "tool" and isinstance(value, (str, int, float)) and not isinstance(value, bool):
                build_out[key] = str(value)

        downstream = raw.get("downstream") or []
        if not isinstance(downstream, list) or not all(isinstance(d, str) and d.strip() for d in downstream):
            fail(f"{where}: field 'downstream' must be a list of app names")
        downstream = [d.strip() for d in downstream]
        dupes = sorted(d for d, n in Counter(downstream).items() if n > 1)
        if dupes:
            fail(f"{where}: downstream lists '{dupes[0]}' more than once")

        tests = raw.get("tests") or {}
        if not isinstance(tests, dict):
            fail(f"{where}: field 'tests' must be a mapping of suite type to path (e.g. postman: tests/postman/x.json)")
        tests_out = {}
        for kind, path in tests.items():
            if not isinstance(path, str) or not path.strip():
                fail(f"{where}: tests.{kind} must be a path inside the app repository")
            path = path.strip()
            if path.startswith("/") or ".." in path.split("/"):
                fail(f"{where}: tests.{kind} '{path}' must be a relative path inside the app repository without '..'")
            tests_out[kind] = path

        propagation_role = text_field(raw, "propagation-role", where)
        if propagation_role and propagation_role not in PROPAGATION_ROLES:
            fail(f"{where}: propagation-role '{propagation_role}' is not one of {', '.join(PROPAGATION_ROLES)}")

        context_dir = text_field(raw, "context-dir", where, default=".") or "."
        dockerfile = text_field(raw, "dockerfile", where, default="Dockerfile") or "Dockerfile"
        for field, value in (("context-dir", context_dir), ("dockerfile", dockerfile)):
            if value.startswith("/") or ".." in value.split("/"):
                fail(f"{where}: field '{field}' '{value}' must be a relative path inside the app repository without '..'")

        apps[app_name] = {
            "name": app_name,
            "repo": repo_url(text_field(raw, "repo", where, required=True), where),
            "role": text_field(raw, "role", where),
            "propagationRole": propagation_role,
            "namespace": namespace_field(raw, "namespace", where, default_ns),
            "containerPort": port_field(raw, "container-port", where, default_container_port),
            "servicePort": port_field(raw, "service-port", where, default_service_port),
            "readinessPath": text_field(raw, "readiness-path", where, default=default_readiness),
            "contextDir": context_dir,
            "dockerfile": dockerfile,
            "build": build_out,
            "downstream": downstream,
            "tests": tests_out,
        }

    names = list(apps)
    listing = ", ".join(names)
    for app in apps.values():
        for target in app["downstream"]:
            if target not in apps:
                fail(f"stack '{name}': app '{app['name']}' lists downstream '{target}', which names no app in the stack (apps: {listing})")

    edges = {n: apps[n]["downstream"] for n in names}
    cycle = find_cycle(names, edges)
    if cycle:
        through = "" if len(cycle) <= 2 * CYCLE_SHOWN else f" through {len(cycle) - 1} apps"
        fail(f"stack '{name}': the downstream graph has a cycle{through}: {describe_cycle(cycle)}")

    changed_app = select_changed_app(name, apps, changed_app, repo_name)

    upstream = {n: [] for n in names}
    for m in names:
        for n in edges[m]:
            upstream[n].append(m)
    roots = [n for n in names if not upstream[n]]
    named_entry = text_field(stack, "entry-app", f"stack '{name}'")
    if named_entry:
        if named_entry not in apps:
            fail(f"stack '{name}': entry-app '{named_entry}' names no app in the stack (apps: {listing})")
        if upstream[named_entry]:
            fail(f"stack '{name}': entry-app '{named_entry}' is downstream of {', '.join(upstream[named_entry])}; the entry app must have no upstream")
        entry = named_entry
    elif len(roots) == 1:
        entry = roots[0]
    else:
        originators = [n for n in roots if apps[n]["propagationRole"] == "originator"]
        if len(originators) == 1:
            entry = originators[0]
        else:
            fail(f"stack '{name}': the entry app is ambiguous: {', '.join(roots)} have no upstream app"
                 f" and {'none' if not originators else 'more than one'} of them is the originator;"
                 " name it with the top-level field 'entry-app'")

    order = topological(names, edges, index, entry)
    from_entry = reachable(entry, edges)
    if changed_app not in from_entry:
        fail(f"stack '{name}': changed-app '{changed_app}' cannot be reached from the entry app '{entry}' along downstream"
             " edges, so no request through the entry app can reach its PR pod")
    chain = [n for n in order if n in from_entry]
    unreachable = [n for n in order if n not in from_entry]

    graph = {
        "name": name,
        "headerName": header_name,
        "interceptHeaderValue": f"{header_name}: pr-{pr_number}",
        "entryApp": entry,
        "order": order,
        "propagationChain": chain,
        "buildApps": [changed_app],
        "apps": apps,
    }
    return graph, unreachable


def go_json_bytes(value):
    """The bytes Go's json.Marshal (Tekton's entrypoint) takes for value: UTF-8 as it is, but each of < > &
    and U+2028, U+2029 as a six-byte \\u escape."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    raw = len(text.encode("utf-8", "surrogatepass"))
    return raw + 5 * sum(text.count(c) for c in "<>&") + 3 * sum(text.count(c) for c in "\u2028\u2029")


def check_result_budget(results, changed_app):
    """Refuses results that would not fit in the termination message, as Tekton writes it: a JSON list of
    {key, value, type} entries plus the entrypoint's own StartedAt entry. The graph and the app lists go to
    the workspace (@path results), so only the changed app's own fields can make the results large."""
    entries = [{"key": key, "value": value, "type": 1} for key, value in results.items()]
    entries.append({"key": "StartedAt", "value": "2026-01-01T00:00:00.000000000Z", "type": 3})
    size = go_json_bytes(entries)
    if size > TERMINATION_MESSAGE_BYTES:
        key, value = max(results.items(), key=lambda kv: len(kv[1].encode()))
        fail(f"the results of resolve-stack would take {size} bytes of the step's {TERMINATION_MESSAGE_BYTES}-byte"
             f" termination message; {key} of app '{changed_app}' is {len(value.encode())} bytes. Shorten it in the stack file")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def pin(run_dir, run_rel, name, text):
    """Writes one large value to the run directory and returns its reference "@<path>@sha256:<hex>".
    The digest is taken from the text in memory, not read back, and travels in the result (TaskRun status),
    which PR code cannot write: lib-common.sh's read_value uses the file only if it still matches."""
    write(os.path.join(run_dir, name), text)
    return f"@{run_rel}/{name}@sha256:{hashlib.sha256(text.encode('utf-8')).hexdigest()}"


def main():
    os.umask(0o002)
    parsed = env("PARSED_JSON")
    stack_file = env("STACK_FILE")
    changed_app = env("CHANGED_APP", required=False).strip()
    repo_name = env("REPO_FULL_NAME", required=False).strip()
    pr_number = env("PR_NUMBER").strip()
    run_id = env("RUN_ID")
    workspace = env("SHARED_WORKSPACE")
    result_path = env("STACK_JSON_RESULT")
    default_namespace = env("DEFAULT_NAMESPACE", required=False).strip()
    if not RUN_ID_RE.match(run_id):
        fail(f"run-id '{run_id}' may only contain letters, digits, '.', '_' and '-'")

    stack = load_parsed(parsed, stack_file)
    graph, unreachable = resolve(stack, stack_file, changed_app, repo_name, pr_number, default_namespace)
    changed_app = graph["buildApps"][0]

    run_rel = f".tekton-dag/runs/{run_id}"
    run_dir = os.path.join(workspace, run_rel)
    pinned = {
        name: pin(run_dir, run_rel, name, text)
        for name, text in (
            ("stack.json", json.dumps(graph, indent=2) + "\n"),
            ("app-list.txt", " ".join(graph["order"])),
            ("propagation-chain.txt", " ".join(graph["propagationChain"])),
        )
    }

    changed = graph["apps"][changed_app]
    results = {
        "stack-json": pinned["stack.json"],
        "app-list": pinned["app-list.txt"],
        "propagation-chain": pinned["propagation-chain.txt"],
        "entry-app": graph["entryApp"],
        "changed-app": changed_app,
        "build-apps": changed_app,
        "intercept-header-value": graph["interceptHeaderValue"],
        "build-tool": changed["build"]["tool"],
        "app-repo-url": changed["repo"],
        "app-context-dir": changed["contextDir"],
        "app-dockerfile": changed["dockerfile"],
    }
    check_result_budget(results, changed_app)
    results_dir = os.path.dirname(result_path)
    for key, value in results.items():
        write(os.path.join(results_dir, key), value)

    print(f"stack '{graph['name']}' from {stack_file}: {len(graph['apps'])} app(s)")
    print(f"  entry app:          {graph['entryApp']}")
    print(f"  order:              {' '.join(graph['order'])}")
    print(f"  propagation chain:  {' '.join(graph['propagationChain'])}")
    print(f"  build apps:         {changed_app} ({changed['build']['tool']}, {changed['repo']})")
    print(f"  intercept header:   {graph['interceptHeaderValue']}")
    if unreachable:
        print(f"  warning: not reachable from {graph['entryApp']} (never on a request path): {' '.join(unreachable)}")
    print(f"wrote {run_rel}/stack.json, app-list.txt, propagation-chain.txt (their sha256 digests are in the results)")
    total = sum(len(v.encode()) for v in results.values())
    print(f"results: {total} bytes in all")


if __name__ == "__main__":
    try:
        main()
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except RecursionError:
        # Nothing here recurses over the stack; this guards a future change from showing users a traceback.
        print("error: resolve-stack: the stack is nested or chained too deeply to resolve", file=sys.stderr)
        sys.exit(1)
