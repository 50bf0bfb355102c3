//go:build tools

// Package tools pins the Kubernetes control-plane binaries scripts/cluster.sh runs. k8s.io/kubernetes is
// not meant to be a dependency: its go.mod points every staging module (k8s.io/api, client-go, ...) at
// ./staging, which is ignored for a dependency, so go.mod here replaces each one with its published
// v0.<minor>.<patch> tag. The version the binaries report is set with -X ldflags by the build script.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
