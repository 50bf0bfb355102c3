#!/usr/bin/env bash
# Helpers shared by the intercept scripts (deploy-intercept-mirrord.sh, deploy-stack-intercepts.sh,
# cleanup-stack-intercepts.sh, sweep-orphans.sh, mirrord-config.sh). Sourcing only defines functions.
#   . "${SCRIPTS_DIR}/lib-common.sh"; . "${SCRIPTS_DIR}/lib-intercept.sh"
# It is the one file they source; each concern is a file of its own, sourced here:
#   lib-validate.sh  checks of param values          lib-naming.sh   names, labels and selectors of a run's objects
#   lib-deploy.sh    inputs, locks, the deploy loop  lib-pods.sh     waiting for pods, proxy ports
#   lib-pr-pod.sh    the PR pod's manifest           lib-lock.sh     the per-app intercept lock
#   lib-cleanup.sh   deleting a run's objects

# shellcheck source=lib-validate.sh
. "${SCRIPTS_DIR:-$(dirname "${BASH_SOURCE[0]}")}/lib-validate.sh"
# shellcheck source=lib-naming.sh
. "${SCRIPTS_DIR:-$(dirname "${BASH_SOURCE[0]}")}/lib-naming.sh"
# shellcheck source=lib-deploy.sh
. "${SCRIPTS_DIR:-$(dirname "${BASH_SOURCE[0]}")}/lib-deploy.sh"
# shellcheck source=lib-pods.sh
. "${SCRIPTS_DIR:-$(dirname "${BASH_SOURCE[0]}")}/lib-pods.sh"
# shellcheck source=lib-pr-pod.sh
. "${SCRIPTS_DIR:-$(dirname "${BASH_SOURCE[0]}")}/lib-pr-pod.sh"
# shellcheck source=lib-lock.sh
. "${SCRIPTS_DIR:-$(dirname "${BASH_SOURCE[0]}")}/lib-lock.sh"
# shellcheck source=lib-cleanup.sh
. "${SCRIPTS_DIR:-$(dirname "${BASH_SOURCE[0]}")}/lib-cleanup.sh"
