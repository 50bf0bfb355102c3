//go:build tools

// Package tools pins the Go main packages that scripts/pulumi-engine.sh builds, so that go.mod/go.sum fix
// their versions and every module they need. It is never compiled into anything (build tag "tools").
//
// Built from here: the Pulumi CLI (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) at the version of the
// @pulumi/pulumi npm package in ../../package.json. The kubernetes provider is built from its own module,
// ../pulumi-kubernetes-provider; README.md says what else the engine is made of.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
