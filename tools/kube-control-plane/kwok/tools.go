//go:build tools

// Package tools pins kwok, which simulates the node and the status of pods for scripts/cluster.sh (no
// container ever runs). Own module, so its Kubernetes client libraries never mix with the control plane's.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
