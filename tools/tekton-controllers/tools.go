//go:build tools

// Package tools pins the Tekton releases whose controllers scripts/tekton-build.sh builds for the local
// control plane (scripts/cluster.sh tekton-start). Nothing here is compiled into a binary of its own: the
// imports only make `go mod tidy` keep the release modules and everything they need in go.mod and go.sum.
package tools

import (
	_ "github.com/tektoncd/pipeline/cmd/controller"
	_ "github.com/tektoncd/triggers/cmd/controller"
	_ "github.com/tektoncd/triggers/cmd/eventlistenersink"
	_ "github.com/tektoncd/triggers/cmd/interceptors"
)
