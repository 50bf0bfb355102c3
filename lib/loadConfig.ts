import { z } from "zod";
import { configSchema, ConfigError, MIRRORD_AGENT_REPOSITORY, PROJECT, REMOVED_CONFIG_KEYS, StackConfig } from "./config";

type BaseKind = "string" | "boolean" | "number" | "array";

/** Unwraps defaults and optionals down to the type a raw config string must be turned into. */
function baseKind(schema: z.ZodType): BaseKind {
    let def = (schema as any).def;
    while (def.type === "default" || def.type === "optional" || def.type === "pipe") {
        def = (def.innerType ?? def.in).def;
    }
    switch (def.type) {
        case "boolean":
            return "boolean";
        case "number":
            return "number";
        case "array":
            return "array";
        default:
            return "string";
    }
}

/** Turns Pulumi's string config value into the type the schema expects, or explains why it cannot. */
function coerce(kind: BaseKind, raw: string): { value?: unknown; problem?: string } {
    switch (kind) {
        case "boolean":
            if (raw === "true" || raw === "false") return { value: raw === "true" };
            return { problem: `must be true or false; got ${JSON.stringify(raw)}` };
        case "number":
            if (/^-?[0-9]+$/.test(raw.trim())) return { value: Number(raw) };
            return { problem: `must be a whole number; got ${JSON.stringify(raw)}` };
        case "array": {
            const text = raw.trim();
            if (text.startsWith("[")) {
                try {
                    const parsed = JSON.parse(text);
                    if (Array.isArray(parsed)) return { value: parsed };
                } catch {
                    /* reported below */
                }
                return { problem: `must be a JSON list of strings or a comma-separated list; got ${JSON.stringify(raw)}` };
            }
            return { value: text.split(/[,\s]+/).filter((s) => s.length > 0) };
        }
        default:
            return { value: raw };
    }
}

function describeIssue(issue: z.core.$ZodIssue, raw: Record<string, string>): string {
    const key = String(issue.path[0]);
    const fullKey = `${PROJECT}:${key}`;
    const given = raw[key];
    const got = given === undefined ? "" : `; got ${JSON.stringify(given)}`;
    if (issue.code === "invalid_value") {
        return `${fullKey} must be one of ${issue.values.map(String).join(", ")}${got}`;
    }
    const where = issue.path.length > 1 ? `${fullKey}[${issue.path.slice(1).join(".")}]` : fullKey;
    return `${where} ${issue.message}${got}`;
}

/**
 * Parses the project's config as Pulumi hands it over (`tekton-dag:key` -> string) into a StackConfig.
 * Keys of other namespaces (kubernetes:, pulumi:) are ignored; unknown keys of this project are errors.
 * Every problem is collected, so one run reports all of them.
 */
export function parseConfig(allConfig: Record<string, string>): StackConfig {
    const shape = configSchema.shape as Record<string, z.ZodType>;
    const raw: Record<string, string> = {};
    const problems: string[] = [];
    for (const [fullKey, value] of Object.entries(allConfig)) {
        const [namespace, ...rest] = fullKey.split(":");
        if (namespace !== PROJECT) continue;
        raw[rest.join(":")] = value;
    }
    const input: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw)) {
        const schema = shape[key];
        if (!schema && key in REMOVED_CONFIG_KEYS) {
            problems.push(`${PROJECT}:${key} ${REMOVED_CONFIG_KEYS[key]}`);
            continue;
        }
        if (!schema) {
            problems.push(`${PROJECT}:${key} is not a known config key; known keys: ${Object.keys(shape).join(", ")}`);
            continue;
        }
        // Pulumi.yaml must give every key a default or the engine demands a value, so optional keys
        // default to "" there, which means "not set".
        if (value === "" && (schema as any).def.type === "optional") continue;
        const { value: coerced, problem } = coerce(baseKind(schema), value);
        if (problem) problems.push(`${PROJECT}:${key} ${problem}`);
        else input[key] = coerced;
    }
    const result = configSchema.safeParse(input);
    if (!result.success) {
        for (const issue of result.error.issues) problems.push(describeIssue(issue, raw));
    }
    if (problems.length > 0 || !result.success) throw new ConfigError(problems);

    const parsed = result.data;
    const registryPull = parsed.registryPull ?? parsed.registryPush;
    const config: StackConfig = {
        ...parsed,
        registryPull,
        prImageRegistry: parsed.prImageRegistry ?? registryPull,
        mirrordAgentImage: parsed.mirrordAgentImage || `${MIRRORD_AGENT_REPOSITORY}:${parsed.mirrordVersion}`,
        defaultNamespace: parsed.targetNamespaces[0],
        installsTrafficManager: parsed.enableIntercepts && parsed.installTelepresence,
        rendersNetworkPolicies: parsed.enableIntercepts && parsed.enableNetworkPolicies,
    };
    checkCombinations(config);
    return config;
}

/** Combinations each valid on their own that cannot work together. */
function checkCombinations(c: StackConfig): void {
    const problems: string[] = [];
    const images: Array<["mirrordImage" | "telepresenceImage", boolean]> = [
        // The mirrord image is also every pipeline's kubectl/jq tools image, so it is always needed.
        ["mirrordImage", true],
        ["telepresenceImage", c.enableIntercepts],
    ];
    for (const [key, needed] of images) {
        if (!c.buildImages && needed && !c[key]) {
            problems.push(`${PROJECT}:${key} is required when ${PROJECT}:buildImages is false (an image reference pinned by digest or tag)`);
        }
        if (c.buildImages && c[key]) {
            problems.push(`${PROJECT}:${key} is set but ${PROJECT}:buildImages is true; set buildImages to false to use your own image, or remove ${key}`);
        }
    }
    if (c.enableIntercepts) {
        const [major, minor] = c.telepresenceVersion.replace(/^v/, "").split(".").map(Number);
        if (major < 2 || (major === 2 && minor < 25)) {
            problems.push(`${PROJECT}:telepresenceVersion must be 2.25.0 or later (header intercepts with --http-header); got ${JSON.stringify(c.telepresenceVersion)}`);
        } else if (c.installsTrafficManager && !c.telepresenceAllowGlobalIntercepts && major === 2 && minor < 26) {
            // The chart's values schema refuses keys it does not know, so an older chart would fail the update.
            problems.push(`${PROJECT}:telepresenceAllowGlobalIntercepts false needs telepresenceVersion 2.26.0 or later (the chart's ` +
                `intercept.allowGlobalIntercepts came with 2.26.0); got ${JSON.stringify(c.telepresenceVersion)}. Raise the version, or set ` +
                `${PROJECT}:telepresenceAllowGlobalIntercepts true`);
        }
    }
    const sharedTelepresenceNamespace = [c.pipelinesNamespace, ...c.targetNamespaces].includes(c.telepresenceNamespace);
    if (c.installsTrafficManager && sharedTelepresenceNamespace) {
        problems.push(`${PROJECT}:telepresenceNamespace must be a namespace of its own (the program creates and deletes it); ` +
            `got ${JSON.stringify(c.telepresenceNamespace)}, which is also the pipelines or a target namespace`);
    } else if (c.rendersNetworkPolicies && sharedTelepresenceNamespace) {
        problems.push(`${PROJECT}:telepresenceNamespace must be a namespace of its own while NetworkPolicies are rendered (they keep PR code ` +
            `out of the traffic manager's namespace but let it reach the pipelines and target namespaces); got ${JSON.stringify(c.telepresenceNamespace)}, ` +
            `which is also the pipelines or a target namespace; or set ${PROJECT}:enableNetworkPolicies false`);
    }
    if (!c.rendersNetworkPolicies && c.buildEgressCidrs.length > 0) {
        problems.push(`${PROJECT}:buildEgressCidrs is set but no NetworkPolicy is rendered (${PROJECT}:enableNetworkPolicies or ` +
            `${PROJECT}:enableIntercepts is false); remove it or turn the policies on`);
    }
    if (new Set(c.targetNamespaces).size !== c.targetNamespaces.length) {
        problems.push(`${PROJECT}:targetNamespaces lists a namespace twice; got ${JSON.stringify(c.targetNamespaces)}`);
    }
    if (c.targetNamespaces.includes(c.pipelinesNamespace)) {
        problems.push(`${PROJECT}:pipelinesNamespace must differ from every target namespace; got ${JSON.stringify(c.pipelinesNamespace)} in both`);
    }
    if (problems.length > 0) throw new ConfigError(problems);
}
