//go:build tools

// Package tools pins etcd's server main package for scripts/cluster.sh. `go install ...@v3.7.3` refuses the
// etcd server module (its go.mod has replace directives); built as a dependency of this module it is fine,
// because a dependency's replaces are ignored and its sibling modules resolve to their published v3.7.3.
// Own module, apart from Kubernetes: etcd's client packages at 3.7 must not raise the versions the API
// server was built against.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
