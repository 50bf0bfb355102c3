#!/bin/sh
# Compiles the changed app's checkout with one build tool. Every compile-<tool> task runs this file with
# BUILD_TOOL fixed, in that tool's image. POSIX sh: some tool images (alpine based) have no bash.
#
# Environment:
#   BUILD_TOOL       npm | maven | gradle | pip | composer (fixed by the task)
#   APP              the app name (param app)
#   RUN_ID           the PipelineRun uid (param run-id)
#   CONTEXT_DIR      directory inside the app checkout that holds the build file (param context-dir, default .)
#   SHARED_WORKSPACE the shared workspace path
#   COMPILE_IMAGE    the image this step runs in (named in errors only)
# The checkout is at SHARED_WORKSPACE/.tekton-dag/runs/RUN_ID/apps/APP (written by clone-app). Dependency
# caches live in SHARED_WORKSPACE/.tekton-dag/cache/<tool> and are shared by runs on the same workspace.
# Unit tests are not run here: the pipeline tests the app in its stack; the app's own CI runs unit tests.
set -eu

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

log() {
  printf '[compile-%s] %s\n' "${BUILD_TOOL:-?}" "$*" >&2
}

for name in BUILD_TOOL APP RUN_ID SHARED_WORKSPACE; do
  eval "value=\${${name}:-}"
  # shellcheck disable=SC2154 # value is set by the eval above
  [ -n "$value" ] || die "environment variable ${name} is required (set it from the task param through env)"
done
CONTEXT_DIR="${CONTEXT_DIR:-.}"
COMPILE_IMAGE="${COMPILE_IMAGE:-this image}"

case "$APP" in
  *[!a-z0-9._-]*|.*|-*) die "app '${APP}' is not a valid app name (lowercase letters, digits, '.', '_', '-')" ;;
esac
case "$RUN_ID" in
  *[!A-Za-z0-9-]*) die "run-id '${RUN_ID}' must be a PipelineRun uid" ;;
esac
case "$CONTEXT_DIR" in
  /*|..|../*|*/..|*/../*) die "context-dir '${CONTEXT_DIR}' must be relative to the app checkout and must not contain '..'" ;;
esac

run_dir="${SHARED_WORKSPACE}/.tekton-dag/runs/${RUN_ID}"
app_dir="${run_dir}/apps/${APP}"
work="${app_dir}/${CONTEXT_DIR}"
cache="${SHARED_WORKSPACE}/.tekton-dag/cache/${BUILD_TOOL}"

[ -d "$app_dir" ] || die "no checkout of app '${APP}' at ${app_dir} (clone-app writes it; did it run in this PipelineRun?)"
[ -d "$work" ] || die "context-dir '${CONTEXT_DIR}' does not exist in the checkout of app '${APP}'"

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed in ${COMPILE_IMAGE}; set the compile image param of compile-${BUILD_TOOL} to an image that has it"
}

need_file() {
  for candidate in "$@"; do
    [ -f "${work}/${candidate}" ] && return 0
  done
  die "app '${APP}' has build tool '${BUILD_TOOL}' but ${CONTEXT_DIR} has none of: $*"
}

mkdir -p "$cache"
cd "$work"
log "compiling app '${APP}' in ${CONTEXT_DIR} (cache ${cache})"

case "$BUILD_TOOL" in
  npm)
    need_file package.json
    need npm
    export npm_config_cache="$cache"
    if [ -f package-lock.json ] || [ -f npm-shrinkwrap.json ]; then
      npm ci --no-audit --no-fund
    else
      log "no package-lock.json: using npm install (builds are not reproducible without a lock file)"
      npm install --no-audit --no-fund
    fi
    npm run build --if-present
    ;;
  maven)
    need_file pom.xml
    if [ -x ./mvnw ]; then mvn_cmd=./mvnw; else need mvn; mvn_cmd=mvn; fi
    "$mvn_cmd" -B -ntp "-Dmaven.repo.local=${cache}/repository" -DskipTests package
    ;;
  gradle)
    need_file build.gradle build.gradle.kts settings.gradle settings.gradle.kts
    if [ -x ./gradlew ]; then gradle_cmd=./gradlew; else need gradle; gradle_cmd=gradle; fi
    "$gradle_cmd" --no-daemon --console=plain --gradle-user-home "$cache" assemble
    ;;
  pip)
    need_file requirements.txt pyproject.toml setup.py
    if command -v python3 >/dev/null 2>&1; then py=python3; else need python; py=python; fi
    # Dependencies go into a venv outside the app's build context, so the container build stays its own.
    venv="${run_dir}/venv-${APP}"
    "$py" -m venv "$venv"
    if [ -f requirements.txt ]; then
      "$venv/bin/pip" install --cache-dir "$cache" -r requirements.txt
    else
      "$venv/bin/pip" install --cache-dir "$cache" .
    fi
    "$venv/bin/python" -m compileall -q -x '(^|/)(\.venv|venv|node_modules)/' .
    ;;
  composer)
    need_file composer.json
    need composer
    export COMPOSER_CACHE_DIR="$cache"
    composer install --no-interaction --no-progress --prefer-dist
    ;;
  *)
    die "build tool '${BUILD_TOOL}' is not supported (allowed: npm, maven, gradle, pip, composer)"
    ;;
esac

log "app '${APP}' compiled"
