#!/busybox/sh
# shellcheck shell=sh
# Builds the changed app's image and pushes it under a snapshot tag, in two steps of one Task that never
# share the registry credentials (docs/conventions.md, "Identities"):
#   containerize.sh build   Kaniko runs the PR's Dockerfile (its RUN lines are PR code) and writes the image
#                           as a tarball; no push, no credentials, no results.
#   containerize.sh push    crane pushes the tarball with the docker-config workspace (mounted into this step
#                           only) and writes the `built-images` result {"<app>":"<registry>/<app>@sha256:<digest>"}
#                           from the digest the registry accepted. It runs no PR-supplied command.
# Runs in Kaniko's or crane's debug image, whose only shell is busybox (hence the interpreter and POSIX sh).
#
# Environment:
#   APP, RUN_ID, SHARED_WORKSPACE     which checkout: SHARED_WORKSPACE/.tekton-dag/runs/RUN_ID/apps/APP
#   CONTEXT_DIR                       build context inside the checkout (default .)
#   DOCKERFILE                        Dockerfile path relative to the build context (default Dockerfile)
#   IMAGE_REGISTRY                    registry host[:port][/path] without a scheme
#   INSECURE_REGISTRY                 "true" to push over plain HTTP / without TLS verification (kind)
#   PR_NUMBER                         the PR number (digits) or empty
#   COMMIT                            the app commit sha that was cloned (clone-app's result `commit`)
#   IMAGE_TARBALL                     where build writes the image and push reads it (a Task-local emptyDir)
#   RESULT_BUILT_IMAGES, RESULT_IMAGE_TAG, RESULT_IMAGE_URL   task result files (push; optional)
#   DOCKER_CONFIG_BOUND, DOCKER_CONFIG_PATH   push: optional workspace with a config.json for registry auth
#   KANIKO_EXECUTOR                   build: the executor (default /kaniko/executor; tests use a stand-in)
#   CRANE                             push: crane (default /ko-app/crane; tests use a stand-in)
#
# The tag is pr-<pr>-<commit:7>-<run-id:8> (snapshot-<commit:7>-<run-id:8> without a PR): it always starts
# with a letter prefix, so it can never be mistaken for (or overwrite) a release tag such as 1.4.2 or v1.4.2.
# Both modes compute it from the Task's params: the push destination never comes from anything the build
# step (PR code) could have written.
set -eu

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

mode="${1:-}"
case "$mode" in
  build|push) ;;
  *) printf 'usage: containerize.sh build|push (got %s)\n' "'${mode}'" >&2; exit 2 ;;
esac

log() {
  printf '[containerize %s] %s\n' "$mode" "$*" >&2
}

for name in APP RUN_ID SHARED_WORKSPACE IMAGE_REGISTRY COMMIT IMAGE_TARBALL; do
  eval "value=\${${name}:-}"
  # shellcheck disable=SC2154 # value is set by the eval above
  [ -n "$value" ] || die "environment variable ${name} is required (set it from the task param through env)"
done
CONTEXT_DIR="${CONTEXT_DIR:-.}"
DOCKERFILE="${DOCKERFILE:-Dockerfile}"
INSECURE_REGISTRY="${INSECURE_REGISTRY:-false}"
PR_NUMBER="${PR_NUMBER:-}"
KANIKO_EXECUTOR="${KANIKO_EXECUTOR:-/kaniko/executor}"
CRANE="${CRANE:-/ko-app/crane}"

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

build() {
  context="${run_dir}/apps/${APP}/${CONTEXT_DIR}"
  [ -d "$context" ] || die "no build context for app '${APP}' at ${context} (clone-app and context-dir)"
  [ -f "${context}/${DOCKERFILE}" ] || die "app '${APP}' has no ${DOCKERFILE} in ${CONTEXT_DIR} (stack field dockerfile is relative to contextDir)"
  rm -f "$IMAGE_TARBALL"

  # --destination only names the image inside the tarball; --no-push keeps Kaniko off the registry.
  set -- \
    "--context=dir://${context}" \
    "--dockerfile=${context}/${DOCKERFILE}" \
    "--destination=${destination}" \
    --no-push \
    "--tar-path=${IMAGE_TARBALL}" \
    "--label=tekton-dag.io/run=${RUN_ID}" \
    "--label=tekton-dag.io/app=${APP}" \
    "--label=org.opencontainers.image.revision=${COMMIT}"
  if [ "$INSECURE_REGISTRY" = true ]; then
    # Base images may come from the same plain-HTTP registry (kind).
    set -- "$@" --insecure-pull --skip-tls-verify-pull
  fi

  log "building ${destination} from ${CONTEXT_DIR}/${DOCKERFILE} into ${IMAGE_TARBALL}"
  "$KANIKO_EXECUTOR" "$@" || die "kaniko could not build ${destination} (its output is above)"
  [ -s "$IMAGE_TARBALL" ] || die "kaniko finished but wrote no image tarball at ${IMAGE_TARBALL}"
}

push() {
  # The build step (PR code) wrote the tarball: read it only if it is a plain file, so a symlink cannot
  # point crane at a file of this step, such as the credentials.
  if [ -L "$IMAGE_TARBALL" ] || [ ! -f "$IMAGE_TARBALL" ]; then
    die "no image tarball at ${IMAGE_TARBALL} (a regular file from the build step)"
  fi
  if [ "${DOCKER_CONFIG_BOUND:-false}" = true ]; then
    [ -f "${DOCKER_CONFIG_PATH}/config.json" ] || die "workspace docker-config is bound but has no config.json"
    export DOCKER_CONFIG="$DOCKER_CONFIG_PATH"
    log "using registry credentials from workspace docker-config"
  fi
  set -- push "$IMAGE_TARBALL" "$destination"
  [ "$INSECURE_REGISTRY" = false ] || set -- --insecure "$@"

  log "pushing ${destination}"
  # crane prints <repository>@sha256:<digest> of what the registry accepted.
  pushed="$("$CRANE" "$@")" || die "crane could not push ${destination} (its output is above)"
  digest="$(printf '%s' "$pushed" | tr -d ' \n\r')"
  digest="${digest##*@}"
  if ! printf '%s' "$digest" | grep -Eq '^sha256:[0-9a-f]{64}$'; then
    die "crane printed an unexpected reference '${pushed}' (want <repository>@sha256:<64 hex>)"
  fi

  image="${registry}/${APP}@${digest}"
  built="{\"${APP}\":\"${image}\"}"
  mkdir -p "$run_dir"
  # PR code could have left a symlink here; replace it rather than write through it.
  rm -f "${run_dir}/built-images.json"
  printf '%s' "$built" > "${run_dir}/built-images.json"
  [ -z "${RESULT_BUILT_IMAGES:-}" ] || printf '%s' "$built" > "$RESULT_BUILT_IMAGES"
  [ -z "${RESULT_IMAGE_TAG:-}" ] || printf '%s' "$tag" > "$RESULT_IMAGE_TAG"
  [ -z "${RESULT_IMAGE_URL:-}" ] || printf '%s' "$destination" > "$RESULT_IMAGE_URL"
  log "pushed ${destination} as ${image}"
}

"$mode"
