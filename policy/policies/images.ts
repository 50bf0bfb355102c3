import type { ResourceValidationPolicy } from "@pulumi/policy";
import { describe, isVendored, paramDeclarations, PolicyInput, TYPES, workloads } from "./common";

const DIGEST = /@sha256:[a-f0-9]{64}$/;
const PARAM_REF = /\$\(params(?:\.([A-Za-z0-9_.-]+)|\[["']([^"']+)["']\])\)/g;
const FIX = "pin it with a digest (@sha256:...) or a tag other than latest";
/**
 * Params whose value is an image some container runs although no container field of ours names it: the
 * mirrord CLI starts its agent Job from `mirrord-agent-image` (through env and the config's agent.image).
 */
export const IMAGE_PARAMS = ["mirrord-agent-image"] as const;

/** True for an image reference with a digest or a tag other than `latest`. */
export function isPinned(image: string): boolean {
    if (DIGEST.test(image)) return true;
    const last = image.split("/").pop() ?? "";
    const colon = last.lastIndexOf(":");
    if (colon < 0) return false;
    const tag = last.slice(colon + 1);
    // Tags are case-sensitive, but LATEST is as mutable as latest.
    return tag !== "" && tag.toLowerCase() !== "latest" && !tag.includes("$(");
}

/**
 * Substitutes `$(params.x)` with the default of the innermost visible param declaration. Returns the
 * resolved reference or why it cannot be resolved.
 */
export function resolveParams(image: string, scopes: any[][]): { resolved?: string; problem?: string } {
    let problem: string | undefined;
    const resolved = image.replace(PARAM_REF, (whole, dotted: string | undefined, bracketed: string | undefined) => {
        const name = dotted ?? bracketed ?? "";
        for (const scope of scopes) {
            const decl = scope.find((p) => p && p.name === name);
            if (decl) {
                if (typeof decl.default === "string" && decl.default !== "") return decl.default;
                problem ??= `param "${name}" has no string default`;
                return whole;
            }
        }
        problem ??= `param "${name}" is not declared`;
        return whole;
    });
    if (problem) return { problem };
    if (resolved.includes("$(")) return { problem: `${JSON.stringify(resolved)} still holds a substitution the policy cannot resolve` };
    return { resolved };
}

/**
 * Images policy for one resource: every image of Tekton steps, sidecars and stepTemplates, of pod
 * templates (Pod, Deployment, Job, CronJob …) and the docker Image's imageName is pinned. A `$(params.x)`
 * image is judged by the param's default.
 */
export function checkImages(resource: PolicyInput): string[] {
    const problems: string[] = [];
    const who = describe(resource);
    if (resource.type === TYPES.dockerImage) {
        const name = resource.props?.imageName;
        if (typeof name === "string" && !isPinned(name)) {
            problems.push(`${who}: imageName ${JSON.stringify(name)} is not pinned; ${FIX}.`);
        }
        return problems;
    }
    if (isVendored(resource)) return problems;
    for (const name of IMAGE_PARAMS) {
        for (const { path, param } of paramDeclarations(resource, name)) {
            const value = param?.default;
            if (typeof value !== "string" || value === "") {
                problems.push(`${who}: ${path} (${name}) has no default; the image would be chosen at run time, unseen; set a pinned default.`);
            } else if (!isPinned(value)) {
                problems.push(`${who}: ${path} (${name}) defaults to ${JSON.stringify(value)}, which is not pinned; ${FIX}.`);
            }
        }
    }
    for (const ref of workloads(resource).containers) {
        const image = ref.container?.image;
        if (typeof image !== "string") continue;
        const field = `${ref.path}.image`;
        if (!image.includes("$(")) {
            if (!isPinned(image)) problems.push(`${who}: ${field} ${JSON.stringify(image)} is not pinned; ${FIX}.`);
            continue;
        }
        const { resolved, problem } = resolveParams(image, ref.params);
        if (problem) {
            problems.push(`${who}: ${field} ${JSON.stringify(image)} cannot be checked: ${problem}; use a literal image or $(params.x) whose default is pinned.`);
        } else if (resolved !== undefined && !isPinned(resolved)) {
            problems.push(`${who}: ${field} ${JSON.stringify(image)} defaults to ${JSON.stringify(resolved)}, which is not pinned; ${FIX} in the param default.`);
        }
    }
    return problems;
}

export const imagesPolicy: ResourceValidationPolicy = {
    name: "images",
    description:
        "Every container image is pinned — a digest (@sha256:...) or a tag other than latest: Tekton steps, sidecars and stepTemplates, " +
        "pod templates (CronJob, Job, Deployment, Pod) and the docker Image's imageName; an image given as $(params.x) is judged by the " +
        "param's default, and so is every declaration of an image-only param (mirrord-agent-image, the mirrord agent). Mandatory; the kind stack may lower it with --policy-pack-config policy/config.kind.json " +
        "({\"images\": {\"enforcementLevel\": \"advisory\"}}).",
    enforcementLevel: "mandatory",
    configSchema: { properties: {} },
    validateResource: (args, reportViolation) => {
        for (const m of checkImages({ type: args.type, name: args.name, urn: args.urn, props: args.props })) reportViolation(m);
    },
};
