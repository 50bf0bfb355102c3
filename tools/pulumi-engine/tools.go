//go:build tools

// Package tools pins the Go main packages that scripts/pulumi-engine.sh builds, so that go.mod/go.sum fix
// their versions and every module they need. It is never compiled into anything (build tag "tools").
//
// Built from here: the Pulumi CLI (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) at the version of the
// @pulumi/pulumi npm package in ../../package.json.
//
// Not built from here, because the Go module proxy these machines reach refuses them (HTTP 403, "This module
// version is not available"; see README.md): the Node.js language host
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) and the kubernetes provider
// (github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes).
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
