#!/bin/sh
# Clones URL at REVISION into SHARED_WORKSPACE/TARGET_PATH and writes the checked-out commit.
# POSIX sh: the git image (alpine/git) has no bash, so lib-common.sh is not sourced here.
#
# Environment (set from the fetch-source task params):
#   URL              repository to clone (https://, ssh://, git@host:path, file:// or a local path)
#   REVISION         branch, tag, full or abbreviated commit sha; empty = the remote's default branch
#   TARGET_PATH      directory relative to the shared workspace; emptied first
#   DEPTH            history depth to fetch; 0 = full history (default 1)
#   PR_NUMBER        optional: the pull request REVISION belongs to. With a full commit sha as REVISION, the
#                    clone fetches the PR's head (refs/pull/<n>/head, as GitHub keeps it) and refuses unless it
#                    is still that commit: a run tests the commit its event or approval named, and a push
#                    after either is never tested by it (docs/webhook.md)
#   SHARED_WORKSPACE the shared workspace path
#   RESULT_COMMIT    file to write the commit sha to (the task result `commit`); optional
#   RESULT_URL       file to write the cloned url to (the task result `url`); optional
set -eu
umask 0002

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

log() {
  printf '[fetch-source] %s\n' "$*" >&2
}

[ -n "${URL:-}" ] || die "URL (param url) is required: the git repository to clone"
[ -n "${SHARED_WORKSPACE:-}" ] || die "SHARED_WORKSPACE is required: the path of the shared workspace"
[ -n "${TARGET_PATH:-}" ] || die "TARGET_PATH (param path) is required: a directory relative to the shared workspace"
REVISION="${REVISION:-}"
DEPTH="${DEPTH:-1}"
PR_NUMBER="${PR_NUMBER:-}"

case "$URL" in
  -*) die "url '${URL}' must not start with '-'" ;;
esac
case "$REVISION" in
  -*) die "revision '${REVISION}' must not start with '-' (allowed: a branch, a tag or a commit sha)" ;;
esac
case "$TARGET_PATH" in
  /*|..|../*|*/..|*/../*) die "path '${TARGET_PATH}' must be relative to the shared workspace and must not contain '..'" ;;
esac
case "$DEPTH" in
  ''|*[!0-9]*) die "depth '${DEPTH}' must be a non-negative integer (0 = full history)" ;;
esac
case "$PR_NUMBER" in
  '') ;;
  0*|*[!0-9]*) die "pr-number '${PR_NUMBER}' must be a positive whole number (or empty)" ;;
esac

is_sha=false
if printf '%s' "$REVISION" | grep -Eq '^[0-9a-fA-F]{7,64}$'; then
  is_sha=true
fi

dest="${SHARED_WORKSPACE}/${TARGET_PATH}"
export GIT_TERMINAL_PROMPT=0

gitc() {
  git -C "$dest" -c safe.directory="$dest" -c advice.detachedHead=false "$@"
}

log "cloning ${URL} at '${REVISION:-<default branch>}' into ${TARGET_PATH}"
rm -rf "$dest"
mkdir -p "$dest"
git -c init.defaultBranch=main init -q "$dest"
gitc remote add origin "$URL"

depth_flag=""
if [ "$DEPTH" -gt 0 ]; then
  depth_flag="--depth=${DEPTH}"
fi

# The PR's head is checked only against a full sha: webhook runs always give one, and a run by hand that
# names a branch or an abbreviated sha asks for that, not for the PR's head.
pr_head_check=false
if [ -n "$PR_NUMBER" ] && printf '%s' "$REVISION" | grep -Eq '^([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$'; then
  pr_head_check=true
elif [ -n "$PR_NUMBER" ]; then
  log "revision '${REVISION:-<default branch>}' is not a full commit sha: not checked against the head of PR #${PR_NUMBER}"
fi

if [ "$pr_head_check" = true ]; then
  pr_ref="refs/pull/${PR_NUMBER}/head"
  # shellcheck disable=SC2086 # depth_flag is empty or one word
  gitc fetch -q --no-tags $depth_flag origin "$pr_ref" \
    || die "could not fetch ${pr_ref} from ${URL}: pr-number ${PR_NUMBER} must be a pull request of this repository (GitHub keeps each PR's head at refs/pull/<n>/head)"
  head="$(gitc rev-parse FETCH_HEAD)"
  lower_rev="$(printf '%s' "$REVISION" | tr 'A-F' 'a-f')"
  [ "$head" = "$lower_rev" ] \
    || die "the head of PR #${PR_NUMBER} is now ${head}, not ${lower_rev}, the commit this run was started for: the PR moved after its event or approval, and this run tests only the commit it was given (a push starts its own run; a fork's PR needs a new /ok-to-test <sha>)"
  log "${lower_rev} is the head of PR #${PR_NUMBER}"
  checkout="FETCH_HEAD"
fi

ref="${REVISION:-HEAD}"
# A full sha can be fetched directly from servers that allow it (GitHub, GitLab); an abbreviated one
# cannot, so it (and any sha the server refuses) falls back to fetching every branch and tag.
# shellcheck disable=SC2086 # depth_flag is empty or one word
if [ "$pr_head_check" = true ]; then
  : # fetched and checked above
elif fetch_err="$(gitc fetch -q --no-tags $depth_flag origin "$ref" 2>&1)"; then
  checkout="FETCH_HEAD"
elif [ "$is_sha" = true ]; then
  log "the server did not hand out ${REVISION} directly; fetching all branches and tags to find it"
  gitc fetch -q --tags origin '+refs/heads/*:refs/remotes/origin/*' \
    || die "could not fetch ${URL} (check the url and the credentials of the task's ServiceAccount)"
  gitc rev-parse -q --verify "${REVISION}^{commit}" >/dev/null \
    || die "revision '${REVISION}' is not a commit of ${URL}"
  checkout="$REVISION"
else
  printf '%s\n' "$fetch_err" >&2
  die "could not fetch revision '${REVISION:-<default branch>}' from ${URL} (allowed: an existing branch, tag or commit sha)"
fi

gitc checkout -q --force "$checkout"
commit="$(gitc rev-parse HEAD)"

# A hex-looking revision fetched by name may be a branch; only a full sha must equal the commit.
if [ "$is_sha" = true ] && { [ "$checkout" != FETCH_HEAD ] || [ "${#REVISION}" -ge 40 ]; }; then
  lower_rev="$(printf '%s' "$REVISION" | tr 'A-F' 'a-f')"
  case "$commit" in
    "$lower_rev"*) ;;
    *) die "checked out ${commit} but revision '${REVISION}' was asked for" ;;
  esac
fi

log "checked out ${commit}"
if [ -n "${RESULT_COMMIT:-}" ]; then
  printf '%s' "$commit" > "$RESULT_COMMIT"
fi
if [ -n "${RESULT_URL:-}" ]; then
  printf '%s' "$URL" > "$RESULT_URL"
fi
