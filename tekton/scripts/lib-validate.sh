#!/usr/bin/env bash
# Checks of the values a task gets from its params, each failing with a message that names the value and
# what is allowed. Sourced by lib-intercept.sh; defines functions only.

UID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
DNS_LABEL_RE='^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
LABEL_VALUE_RE='^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$'

# The run id must be a PipelineRun uid: an empty or odd value would widen a label selector.
validate_run_id() {
  local value="${1-}"
  [ -n "$value" ] || die "run-id is empty; it must be the PipelineRun uid (\$(context.pipelineRun.uid)), e.g. 0f8e6c1a-3b2d-4c5e-9f70-1a2b3c4d5e6f"
  [[ "$value" =~ $UID_RE ]] || die "run-id \"${value}\" is not a PipelineRun uid (lower-case 8-4-4-4-12 hex)"
}

validate_run_name() {
  local value="${1-}"
  [ -n "$value" ] || die "run-name is empty; it must be the PipelineRun name (\$(context.pipelineRun.name))"
  if [ "${#value}" -gt 63 ] || ! [[ "$value" =~ $LABEL_VALUE_RE ]]; then
    die "run-name \"${value}\" is not usable as a label value (at most 63 characters, alphanumerics, '-', '_', '.')"
  fi
}

validate_dns_label() {
  local what="$1" value="$2"
  if [ "${#value}" -gt 63 ] || ! [[ "$value" =~ $DNS_LABEL_RE ]]; then
    die "${what} \"${value}\" is not a DNS label (lower-case alphanumerics and '-', at most 63 characters)"
  fi
}

# True for a TCP port number 1-65535.
is_port() {
  [[ "${1-}" =~ ^[0-9]{1,5}$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

# True for an image reference pinned by a digest, or by a tag other than latest (as the images policy
# judges): the mirrord agent image must not change under a run.
is_pinned_image() {
  local ref="${1-}" last tag
  [[ "$ref" =~ ^[A-Za-z0-9][A-Za-z0-9._/:@-]*$ ]] || return 1
  [[ "$ref" =~ @sha256:[a-f0-9]{64}$ ]] && return 0
  last="${ref##*/}"
  [[ "$last" == *:* ]] || return 1
  tag="${last##*:}"
  # Tags are case-sensitive, but LATEST is as mutable as latest.
  [ -n "$tag" ] && [ "${tag,,}" != latest ]
}

# An empty value, or a Secret name (a DNS subdomain).
validate_pull_secret() {
  local what="$1" value="$2"
  [ -z "$value" ] && return 0
  if [ "${#value}" -gt 253 ] || ! [[ "$value" =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]]; then
    die "${what} \"${value}\" is not a Secret name (lowercase letters, digits, '-' and '.', at most 253)"
  fi
}

validate_positive_int() {
  local what="$1" value="$2"
  if ! [[ "$value" =~ ^[0-9]{1,9}$ ]] || [ "$value" -eq 0 ]; then
    die "${what} must be a positive whole number of seconds; got \"${value}\""
  fi
}
