import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { REPO_ROOT } from "./tektonSources";

/**
 * A stack's config as Pulumi hands it to the program: `namespace:key` -> string, lists and maps as JSON.
 * A missing or malformed stack file fails naming the file.
 */
export function readStackConfig(stack: string, root = REPO_ROOT): Record<string, string> {
    const file = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        const known = fs.readdirSync(root).filter((f) => /^Pulumi\..+\.yaml$/.test(f)).map((f) => f.slice(7, -5));
        throw new Error(`no stack file ${path.basename(file)}; stacks here: ${known.join(", ") || "none"}`);
    }
    let doc: any;
    try {
        doc = YAML.parse(fs.readFileSync(file, "utf8")) ?? {};
    } catch (err) {
        throw new Error(`${path.basename(file)} is not valid YAML: ${(err as Error).message}`);
    }
    const config = doc.config ?? {};
    if (typeof config !== "object" || Array.isArray(config)) {
        throw new Error(`${path.basename(file)}: "config" must be a map of key: value`);
    }
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(config)) {
        if (!key.includes(":")) {
            throw new Error(`${path.basename(file)}: config key "${key}" must be namespaced, e.g. "tekton-dag:${key}"`);
        }
        if (value !== null && typeof value === "object" && "secure" in (value as object)) {
            throw new Error(`${path.basename(file)}: config key "${key}" is a secret; this program has no secret config keys`);
        }
        out[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return out;
}
