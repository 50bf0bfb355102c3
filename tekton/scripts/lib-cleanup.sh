#!/usr/bin/env bash
# Deleting a run's objects, for the finally cleanup and the orphan sweeper. Sourced by lib-intercept.sh;
# defines functions only.

# Deletes every object of one run in one namespace, selected by its run label only.
# Proxies go first (their TERM handler ends the Telepresence intercept; mirrord's agent loses its client),
# then agent Jobs and the remaining pods, the ConfigMaps, run-labelled Leases (the earlier one-holder lock),
# and last the run's records in the shared intercept locks: other runs' intercepts and records stay. Every delete without
# --wait=false watches until the objects are gone, so the Role grants watch on pods and jobs.
delete_run_objects() {
  local ns="$1" run="$2" failed=0 sel
  validate_run_id "$run"
  sel="${RUN_LABEL}=${run}"
  # Both backends' proxies in one delete (one kubectl, one wait), before anything else of the run.
  kubectl delete pods -n "$ns" -l "${sel},tekton-dag.io/role in (mirrord-proxy,telepresence-intercept)" --ignore-not-found --wait=true >&2 || failed=1
  kubectl delete jobs.batch -n "$ns" -l "$sel" --ignore-not-found --cascade=foreground --wait=true >&2 || failed=1
  kubectl delete pods -n "$ns" -l "$sel" --ignore-not-found --wait=true >&2 || failed=1
  # ConfigMaps and Leases have no finalizers: gone at once, nothing to wait (and watch) for.
  kubectl delete configmaps -n "$ns" -l "$sel" --ignore-not-found --wait=false >&2 || failed=1
  kubectl delete leases.coordination.k8s.io -n "$ns" -l "$sel" --ignore-not-found --wait=false >&2 || failed=1
  release_run_locks "$ns" "$run" || failed=1
  return "$failed"
}
