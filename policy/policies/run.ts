import type {
    EnforcementLevel, Policies, Policy, PolicyPackConfig, ResourceValidation, ResourceValidationArgs, ResourceValidationPolicy,
    StackValidationArgs, StackValidationPolicy,
} from "@pulumi/policy";
import { PolicyInput } from "./common";

/** One reported violation, with the enforcement level it has under the given policy-pack config. */
export interface Finding {
    policy: string;
    enforcementLevel: EnforcementLevel;
    message: string;
    urn?: string;
}

class NotApplicable extends Error {}

/** The enforcement level of a policy under a policy-pack config (what `--policy-pack-config` sets). */
export function effectiveLevel(name: string, declared: EnforcementLevel | undefined, config: PolicyPackConfig = {},
    packLevel: EnforcementLevel = "mandatory"): EnforcementLevel {
    const c: any = config[name] ?? config["all"];
    if (typeof c === "string") return c as EnforcementLevel;
    if (c && typeof c.enforcementLevel === "string") return c.enforcementLevel as EnforcementLevel;
    return declared ?? packLevel;
}

export function urnOf(r: PolicyInput): string {
    return r.urn ?? `urn:pulumi:test::tekton-dag::${r.type}::${r.name}`;
}

const OPTS = {
    protect: false, ignoreChanges: [], aliases: [], additionalSecretOutputs: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
};
const unsupported = (): never => {
    throw new Error("isType/asType are not available outside the policy engine");
};
const notApplicable = (reason?: string): never => {
    throw new NotApplicable(reason);
};

/** `getConfig()` as the engine computes it: the schema defaults overlaid with the policy's config entry. */
function configGetter(policy: Policy, config: PolicyPackConfig): <T extends object>() => T {
    return <T extends object>(): T => {
        const out: any = {};
        for (const [k, s] of Object.entries(policy.configSchema?.properties ?? {})) {
            if (typeof s === "object" && s.default !== undefined) out[k] = s.default;
        }
        const entry: any = config[policy.name];
        if (entry && typeof entry === "object") {
            for (const [k, v] of Object.entries(entry)) if (k !== "enforcementLevel") out[k] = v;
        }
        return out as T;
    };
}

/** A ResourceValidationArgs-shaped object for one resource (what the engine passes to validateResource). */
export function resourceValidationArgs(r: PolicyInput, policy?: Policy, config: PolicyPackConfig = {}): ResourceValidationArgs {
    return {
        type: r.type, name: r.name, urn: urnOf(r), props: r.props, opts: OPTS, stackTags: new Map(),
        getConfig: policy ? configGetter(policy, config) : <T extends object>() => ({}) as T,
        notApplicable, isType: unsupported as any, asType: unsupported as any,
    };
}

/** A StackValidationArgs-shaped object for a set of resources (what the engine passes to validateStack). */
export function stackValidationArgs(resources: PolicyInput[], policy?: Policy, config: PolicyPackConfig = {}): StackValidationArgs {
    return {
        resources: resources.map((r) => ({
            type: r.type, name: r.name, urn: urnOf(r), props: r.props, opts: OPTS,
            dependencies: [], propertyDependencies: {}, isType: unsupported as any, asType: unsupported as any,
        })),
        stackTags: new Map(),
        getConfig: policy ? configGetter(policy, config) : <T extends object>() => ({}) as T,
        notApplicable,
    };
}

/**
 * Runs policies the way the engine would, without the engine: every resource policy over every resource
 * and every stack policy over all of them, each with its effective enforcement level under `config`.
 * Never constructs a PolicyPack. Disabled policies are skipped; notApplicable() ends one validation.
 */
export async function runPolicies(policies: Policies, resources: PolicyInput[], config: PolicyPackConfig = {}): Promise<Finding[]> {
    const findings: Finding[] = [];
    for (const policy of policies) {
        const level = effectiveLevel(policy.name, policy.enforcementLevel, config);
        if (level === "disabled") continue;
        const report = (urn?: string) => (message: string, reportedUrn?: string) => {
            findings.push({ policy: policy.name, enforcementLevel: level, message, urn: reportedUrn ?? urn });
        };
        const guarded = async (f: () => Promise<void> | void) => {
            try {
                await f();
            } catch (err) {
                if (!(err instanceof NotApplicable)) throw err;
            }
        };
        if ("validateStack" in policy) {
            const sp = policy as StackValidationPolicy;
            await guarded(() => sp.validateStack(stackValidationArgs(resources, sp, config), report()));
        } else {
            const rp = policy as ResourceValidationPolicy;
            const validations: ResourceValidation[] = rp.validateResource === undefined ? []
                : Array.isArray(rp.validateResource) ? rp.validateResource : [rp.validateResource];
            for (const r of resources) {
                for (const validate of validations) {
                    await guarded(() => validate(resourceValidationArgs(r, rp, config), report(urnOf(r))));
                }
            }
        }
    }
    return findings;
}
