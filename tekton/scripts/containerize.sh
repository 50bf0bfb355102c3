#!/busybox/sh
# shellcheck shell=sh
# Builds the changed app's image with Kaniko and pushes it under a snapshot tag, then writes the
# `built-images` result {"<app>":"<registry>/<app>@sha256:<digest>"}.
# Runs in Kaniko's debug image, whose only shell is busybox (hence the interpreter above and POSIX sh).
#
# Environment:
#   APP, RUN_ID, SHARED_WORKSPACE     which checkout: SHARED_WORKSPACE/.tekton-dag/runs/RUN_ID/apps/APP
#   CONTEXT_DIR                       build context inside the checkout (default .)
#   DOCKERFILE                        Dockerfile path relative to the build context (default Dockerfile)
#   IMAGE_REGISTRY                    registry host[:port][/path] without a scheme
#   INSECURE_REGISTRY                 "true" to push over plain HTTP / without TLS verification (kind)
#   PR_NUMBER                         the PR number (digits) or empty
#   COMMIT                            the app commit sha that was cloned (clone-app's result `commit`)
#   RESULT_BUILT_IMAGES, RESULT_IMAGE_TAG, RESULT_IMAGE_URL   task result files (optional)
#   DOCKER_CONFIG_BOUND, DOCKER_CONFIG_PATH   optional workspace with a config.json for registry auth
#   KANIKO_EXECUTOR                   the executor (default /kaniko/executor; tests use a stand-in)
#
# The tag is pr-<pr>-<commit:7>-<run-id:8> (snapshot-<commit:7>-<run-id:8> without a PR): it always starts
# with a letter prefix, so it can never be mistaken for (or overwrite) a release tag such as 1.4.2 or v1.4.2.
set -eu

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

log() {
  printf '[containerize] %s\n' "$*" >&2
}

for name in APP RUN_ID SHARED_WORKSPACE IMAGE_REGISTRY COMMIT; do
  eval "value=\${${name}:-}"
  # shellcheck disable=SC2154 # value is set by the eval above
  [ -n "$value" ] || die "environment variable ${name} is required (set it from the task param through env)"
done
CONTEXT_DIR="${CONTEXT_DIR:-.}"
DOCKERFILE="${DOCKERFILE:-Dockerfile}"
INSECURE_REGISTRY="${INSECURE_REGISTRY:-false}"
PR_NUMBER="${PR_NUMBER:-}"
KANIKO_EXECUTOR="${KANIKO_EXECUTOR:-/kaniko/executor}"

case "$APP" in
  *[!a-z0-9._-]*|.*|-*|_*) die "app '${APP}' cannot be an image name (lowercase letters, digits, '.', '_', '-')" ;;
esac
case "$RUN_ID" in
  *[!A-Za-z0-9-]*) die "run-id '${RUN_ID}' must be a PipelineRun uid" ;;
esac
case "$IMAGE_REGISTRY" in
  *://*) die "image-registry '${IMAGE_REGISTRY}' must not have a scheme (e.g. registry.local:5000 or ghcr.io/org)" ;;
  *[!A-Za-z0-9.:/_-]*) die "image-registry '${IMAGE_REGISTRY}' is not a registry host[:port][/path]" ;;
esac
case "$INSECURE_REGISTRY" in
  true|false) ;;
  *) die "insecure-registry '${INSECURE_REGISTRY}' must be true or false" ;;
esac
case "$PR_NUMBER" in
  *[!0-9]*) die "pr-number '${PR_NUMBER}' must be digits (or empty)" ;;
esac
if ! printf '%s' "$COMMIT" | grep -Eq '^[0-9a-f]{7,64}$'; then
  die "commit '${COMMIT}' must be a lowercase hex commit sha (clone-app's result commit)"
fi
for rel in "$CONTEXT_DIR" "$DOCKERFILE"; do
  case "$rel" in
    /*|..|../*|*/..|*/../*) die "'${rel}' (context-dir or dockerfile) must be a relative path without '..'" ;;
  esac
done

registry="${IMAGE_REGISTRY%/}"
short_commit="$(printf '%.7s' "$COMMIT")"
short_run="$(printf '%.8s' "$RUN_ID")"
if [ -n "$PR_NUMBER" ]; then
  tag="pr-${PR_NUMBER}-${short_commit}-${short_run}"
else
  tag="snapshot-${short_commit}-${short_run}"
fi
destination="${registry}/${APP}:${tag}"

run_dir="${SHARED_WORKSPACE}/.tekton-dag/runs/${RUN_ID}"
context="${run_dir}/apps/${APP}/${CONTEXT_DIR}"
[ -d "$context" ] || die "no build context for app '${APP}' at ${context} (clone-app and context-dir)"
[ -f "${context}/${DOCKERFILE}" ] || die "app '${APP}' has no ${DOCKERFILE} in ${CONTEXT_DIR} (stack field dockerfile is relative to contextDir)"

if [ "${DOCKER_CONFIG_BOUND:-false}" = true ]; then
  [ -f "${DOCKER_CONFIG_PATH}/config.json" ] || die "workspace docker-config is bound but has no config.json"
  export DOCKER_CONFIG="$DOCKER_CONFIG_PATH"
  log "using registry credentials from workspace docker-config"
fi

digest_file="${run_dir}/kaniko-${APP}.digest"
rm -f "$digest_file"
mkdir -p "$run_dir"

set -- \
  "--context=dir://${context}" \
  "--dockerfile=${context}/${DOCKERFILE}" \
  "--destination=${destination}" \
  "--digest-file=${digest_file}" \
  "--label=tekton-dag.io/run=${RUN_ID}" \
  "--label=tekton-dag.io/app=${APP}" \
  "--label=org.opencontainers.image.revision=${COMMIT}"
if [ "$INSECURE_REGISTRY" = true ]; then
  set -- "$@" --insecure --skip-tls-verify
fi

log "building ${destination} from ${CONTEXT_DIR}/${DOCKERFILE}"
"$KANIKO_EXECUTOR" "$@" || die "kaniko could not build or push ${destination} (its output is above)"

[ -s "$digest_file" ] || die "kaniko finished but wrote no digest to ${digest_file}"
digest="$(tr -d ' \n\r' < "$digest_file")"
if ! printf '%s' "$digest" | grep -Eq '^sha256:[0-9a-f]{64}$'; then
  die "kaniko wrote an unexpected digest '${digest}' (want sha256:<64 hex>)"
fi

image="${registry}/${APP}@${digest}"
built="{\"${APP}\":\"${image}\"}"
printf '%s' "$built" > "${run_dir}/built-images.json"
[ -z "${RESULT_BUILT_IMAGES:-}" ] || printf '%s' "$built" > "$RESULT_BUILT_IMAGES"
[ -z "${RESULT_IMAGE_TAG:-}" ] || printf '%s' "$tag" > "$RESULT_IMAGE_TAG"
[ -z "${RESULT_IMAGE_URL:-}" ] || printf '%s' "$destination" > "$RESULT_IMAGE_URL"
log "pushed ${destination} as ${image}"
