import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { PROJECT } from "../../lib/config";
import { REPO_ROOT } from "../../lib/tektonSources";

/** Config keys whose value is a path; a relative one means relative to the project directory. */
const PATH_KEYS = [`${PROJECT}:renderYamlToDirectory`];

/**
 * Prepares the directory the Pulumi CLI runs in for one stack: a copy of the project's Pulumi.yaml (so the
 * config declarations and their defaults are the project's own) and Pulumi.<stack>.yaml built from the
 * stack file plus overrides. The CLI rewrites the stack file it runs with (`stack init` adds an
 * encryptionsalt), so it gets this copy and the repository's file stays as written; the salt it adds is
 * kept from run to run. Relative paths among the config values are made absolute against the project
 * directory, where `pulumi up` would resolve them.
 */
export function prepareWorkDir(options: {
    workDir: string;
    stack: string;
    stackFile: string;
    overrides: Record<string, unknown>;
}): void {
    const { workDir, stack, stackFile, overrides } = options;
    if (!fs.existsSync(stackFile)) {
        const known = fs.readdirSync(REPO_ROOT).filter((f) => /^Pulumi\..+\.yaml$/.test(f)).map((f) => f.slice(7, -5));
        throw new Error(`no stack file ${stackFile}; stacks of this project: ${known.join(", ") || "none"}`);
    }
    let doc: any;
    try {
        doc = YAML.parse(fs.readFileSync(stackFile, "utf8")) ?? {};
    } catch (err) {
        throw new Error(`${stackFile} is not valid YAML: ${(err as Error).message}`);
    }
    if (typeof doc !== "object" || Array.isArray(doc) || (doc.config !== undefined && (typeof doc.config !== "object" || Array.isArray(doc.config)))) {
        throw new Error(`${stackFile}: expected a map with an optional "config" map`);
    }
    const config: Record<string, unknown> = { ...(doc.config ?? {}) };
    for (const [key, value] of Object.entries(overrides)) config[key.includes(":") ? key : `${PROJECT}:${key}`] = value;
    for (const key of PATH_KEYS) {
        const value = config[key];
        if (typeof value === "string" && value !== "" && !path.isAbsolute(value)) config[key] = path.resolve(REPO_ROOT, value);
    }

    fs.mkdirSync(workDir, { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(workDir, "Pulumi.yaml"));
    const target = path.join(workDir, `Pulumi.${stack}.yaml`);
    const previous = fs.existsSync(target) ? YAML.parse(fs.readFileSync(target, "utf8")) ?? {} : {};
    const out: Record<string, unknown> = { ...doc, config };
    if (!out.encryptionsalt && previous.encryptionsalt) out.encryptionsalt = previous.encryptionsalt;
    fs.writeFileSync(target, `# Written by scripts/pulumi-run.ts from ${stackFile}; edit that file instead.\n${YAML.stringify(out)}`);
}
