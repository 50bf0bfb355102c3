#!/bin/sh
# resolve-stack, step 1 (image mikefarah/yq): turn the stack file into JSON for the resolve step.
# Only YAML parsing happens here; every check of the content is in resolve-stack.py.
#
# env: SHARED_WORKSPACE  the shared-workspace path
#      RUN_ID            the PipelineRun uid
#      STACK_FILE        the stack file, relative to the platform checkout
#                        ($SHARED_WORKSPACE/.tekton-dag/runs/$RUN_ID/platform)
#      PARSED_JSON       where to write the JSON (a path in the step-shared work volume)
# The image has no bash, so this is POSIX sh.
set -eu

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

for name in SHARED_WORKSPACE RUN_ID STACK_FILE PARSED_JSON; do
  eval "value=\${${name}:-}"
  # shellcheck disable=SC2154  # value is set by the eval above
  [ -n "$value" ] || die "environment variable ${name} is required (set it from the task param through env)"
done

case "$RUN_ID" in
  *[!A-Za-z0-9._-]*) die "run-id '${RUN_ID}' may only contain letters, digits, '.', '_' and '-'" ;;
esac
case "$STACK_FILE" in
  /*) die "stack-file '${STACK_FILE}' must be relative to the platform checkout, not absolute" ;;
  ..|../*|*/..|*/../*) die "stack-file '${STACK_FILE}' must not contain '..'" ;;
esac

platform_dir="${SHARED_WORKSPACE}/.tekton-dag/runs/${RUN_ID}/platform"
stack_path="${platform_dir}/${STACK_FILE}"

[ -d "$platform_dir" ] || die "stack-file '${STACK_FILE}': the platform checkout ${platform_dir} does not exist (did the fetch task run for run ${RUN_ID}?)"
[ -e "$stack_path" ] || die "stack-file '${STACK_FILE}': no such file in the platform checkout (${stack_path})"
[ -f "$stack_path" ] || die "stack-file '${STACK_FILE}': ${stack_path} is not a regular file"
[ -s "$stack_path" ] || die "stack-file '${STACK_FILE}': the file is empty"

printf 'parsing stack file %s\n' "$stack_path"
# explode(.) resolves anchors and merge keys so the JSON is self-contained.
if ! yq -o=json 'explode(.)' "$stack_path" >"${PARSED_JSON}.tmp" 2>"${PARSED_JSON}.err"; then
  printf 'error: stack-file %s is not valid YAML: %s\n' "'${STACK_FILE}'" "$(cat "${PARSED_JSON}.err")" >&2
  exit 1
fi
mv "${PARSED_JSON}.tmp" "$PARSED_JSON"
rm -f "${PARSED_JSON}.err"
printf 'parsed %s into %s\n' "$STACK_FILE" "$PARSED_JSON"
