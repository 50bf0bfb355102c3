// Command pulumi-resource-kubernetes is the Pulumi kubernetes provider plugin, built from the provider's Go
// module on the Go module proxy. Upstream's own main package go:embeds a schema-embed.json that its
// `go generate` step writes and that is therefore missing from the module zip; this one embeds the schema
// and the terraform mapping that scripts/pulumi-engine.sh copies from the module cache (stamping the
// version into the schema, as upstream's generator does) before it builds.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	// version.Version is set with -ldflags -X by the build script; the engine reads it through GetPluginInfo.
	provider.Serve("kubernetes", version.Version, schema, terraformMapping)
}
