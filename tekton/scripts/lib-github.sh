#!/usr/bin/env bash
# GitHub REST calls of the finally tasks (pr-comment, commit-status) and of retest-pr. Sourcing only defines functions.
# Needs die/log from lib-common.sh, kubectl (the token Secret, read as the pipeline's ServiceAccount),
# curl and jq.

# github_skip_unless_configured WHO NOT_DONE: exits 0, logging why and NOT_DONE, when the stack configured no
# token Secret (GITHUB_TOKEN_SECRET) or the run names no repository (REPO_FULL_NAME): both are how a stack or a
# hand-started run says "do not talk to GitHub", not errors.
github_skip_unless_configured() {
  local who="$1" not_done="$2"
  if [ -z "${GITHUB_TOKEN_SECRET:-}" ]; then
    log "${who}: no GitHub token secret configured (param github-token-secret is empty); ${not_done}"
    exit 0
  fi
  if [ -z "${REPO_FULL_NAME:-}" ]; then
    log "${who}: param repo-full-name is empty, so there is no repository to talk to; ${not_done}"
    exit 0
  fi
}

# github_require_repo: dies unless REPO_FULL_NAME is owner/name (it goes into API paths).
github_require_repo() {
  [[ "${REPO_FULL_NAME:-}" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || die "repo-full-name '${REPO_FULL_NAME:-}' must be owner/name"
}

# github_auth_header SECRET FILE: writes the header "Authorization: Bearer <token>" from key `token` of
# Secret SECRET in the pod's namespace to FILE (mode 600). The token goes to curl through this file, never
# on a command line. A Secret name from a param cannot be an env secretKeyRef: an empty name makes the pod
# invalid, and an empty name is how a stack says "no token".
github_auth_header() {
  local secret="$1" file="$2" token_b64
  [[ "$secret" =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] || die "github-token-secret '${secret}' is not a Secret name"
  if ! token_b64="$(kubectl get secret "$secret" -o jsonpath='{.data.token}' 2>&1)"; then
    die "cannot read Secret '${secret}' in the pipelines namespace: ${token_b64}"
  fi
  [ -n "$token_b64" ] || die "Secret '${secret}' has no key 'token' (the GitHub token goes under key token)"
  : >"$file"
  chmod 600 "$file"
  {
    printf 'Authorization: Bearer '
    base64 -d <<<"$token_b64" | tr -d '\r\n'
    printf '\n'
  } >"$file"
}

# github_request METHOD URL AUTH_FILE RESPONSE_FILE: sends the JSON body on stdin (none for GET) and prints
# the HTTP status ("000" when no answer came); the response body is in RESPONSE_FILE, curl's own error in
# RESPONSE_FILE.err.
github_request() {
  local method="$1" url="$2" auth="$3" response="$4" status
  local -a data_args=()
  [ "$method" = GET ] || data_args=(-H 'Content-Type: application/json' --data-binary @-)
  status="$(curl -sS -o "$response" -w '%{http_code}' --connect-timeout 10 --max-time 30 \
    --retry 3 --retry-delay 2 -X "$method" -H @"$auth" -H 'Accept: application/vnd.github+json' \
    -H 'X-GitHub-Api-Version: 2022-11-28' "${data_args[@]}" "$url" 2>"${response}.err")" || status="${status:-000}"
  printf '%s' "${status:-000}"
}

# github_error RESPONSE_FILE: GitHub's message (and curl's error) for an error line, cut short.
github_error() {
  local response="$1" message
  message="$(jq -r '.message // empty' "$response" 2>/dev/null || true)"
  [ -n "$message" ] || message="$(head -c 400 "$response" 2>/dev/null || true)"
  printf '%s %s' "$message" "$(tr '\n' ' ' <"${response}.err" 2>/dev/null | head -c 400 || true)"
}
