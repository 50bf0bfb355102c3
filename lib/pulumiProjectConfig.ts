/**
 * Pulumi.yaml's `config:` block, generated from the zod schema (lib/config.ts), which declares each key once.
 * `npm run pulumi-yaml` rewrites Pulumi.yaml with it; test/program/config.test.ts fails while the committed
 * file differs from what this generates.
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { z } from "zod";
import { configSchema } from "./config";
import { REPO_ROOT } from "./tektonSources";

export const PULUMI_YAML = path.join(REPO_ROOT, "Pulumi.yaml");

/** What the Pulumi engine knows of a key: its type, description and default. */
export interface ProjectConfigKey {
    type: "string" | "boolean" | "integer" | "array";
    description: string;
    items?: { type: "string" };
    default: unknown;
}

/**
 * Every schema key with the schema's default. Every key gets one, or the engine would demand a value in every
 * stack: an optional key's is "", which the program reads as not set (lib/loadConfig.ts).
 */
export function projectConfig(schema: z.ZodObject = configSchema): Record<string, ProjectConfigKey> {
    const defaults = schema.parse({}) as Record<string, unknown>;
    const out: Record<string, ProjectConfigKey> = {};
    for (const [key, field] of Object.entries(schema.shape)) {
        const description = (field as { description?: string }).description;
        if (!description) throw new Error(`lib/config.ts: config key ${key} has no .describe(...); Pulumi.yaml needs one for every key`);
        const value = defaults[key] ?? "";
        if (Array.isArray(value)) {
            out[key] = { type: "array", description, items: { type: "string" }, default: value };
        } else {
            const type = typeof value === "boolean" ? "boolean" : typeof value === "number" ? "integer" : "string";
            out[key] = { type, description, default: value };
        }
    }
    return out;
}

const HEADER = [
    "# The config: block is generated from lib/config.ts (the zod schema declares each key, its default and its",
    "# description once): change the schema, then run `npm run pulumi-yaml`. A test fails while they differ.",
    "# Every key has a default, or the engine would demand a value in every stack; \"\" means not set.",
];

/** Pulumi.yaml as it should be: the project fields of the current file, then the generated config. */
export function renderPulumiYaml(current: string): string {
    const doc = YAML.parse(current) ?? {};
    const { config: _old, ...project } = doc;
    const head = YAML.stringify(project, { lineWidth: 0 });
    const config = YAML.stringify({ config: projectConfig() }, { lineWidth: 0 });
    return `${head}${HEADER.join("\n")}\n${config}`;
}

/** Rewrites Pulumi.yaml; returns whether it changed. */
export function writePulumiYaml(file = PULUMI_YAML): boolean {
    const current = fs.readFileSync(file, "utf8");
    const next = renderPulumiYaml(current);
    if (next === current) return false;
    fs.writeFileSync(file, next);
    return true;
}
