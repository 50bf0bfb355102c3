/**
 * npm run pulumi-yaml [-- --check]
 *
 * Regenerates Pulumi.yaml's config: block from lib/config.ts. --check writes nothing and exits 1 when the
 * committed file differs from what would be generated.
 */
import * as fs from "fs";
import { PULUMI_YAML, renderPulumiYaml, writePulumiYaml } from "../lib/pulumiProjectConfig";

const args = process.argv.slice(2);
if (args.some((a) => a !== "--check")) {
    console.error(`pulumi-yaml: error: unknown argument ${JSON.stringify(args.find((a) => a !== "--check"))} (allowed: --check)`);
    process.exit(2);
}
if (args.includes("--check")) {
    const current = fs.readFileSync(PULUMI_YAML, "utf8");
    if (renderPulumiYaml(current) !== current) {
        console.error("pulumi-yaml: Pulumi.yaml differs from lib/config.ts; run `npm run pulumi-yaml`");
        process.exit(1);
    }
    console.log("pulumi-yaml: Pulumi.yaml matches lib/config.ts");
} else {
    console.log(writePulumiYaml() ? "pulumi-yaml: rewrote Pulumi.yaml from lib/config.ts" : "pulumi-yaml: Pulumi.yaml already matches lib/config.ts");
}
