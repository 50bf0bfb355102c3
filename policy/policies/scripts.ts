import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asArray, describe, isKubernetesObject, PolicyInput, workloads } from "./common";

const SUBSTITUTION = /\$\((?:params|tasks)[.[][^)]*\)/;

/**
 * Scripts policy: no `$(params.` or `$(tasks.` substitution in a Tekton step's (or sidecar's or
 * stepTemplate's) `script`, `args` or `command` — Tekton pastes the value into the text before it runs.
 */
export function checkScripts(resource: PolicyInput): string[] {
    if (!isKubernetesObject(resource.type)) return [];
    const problems: string[] = [];
    const who = describe(resource);
    for (const ref of workloads(resource).containers) {
        if (!ref.tekton) continue;
        const c = ref.container ?? {};
        const fields: Array<[string, unknown]> = [["script", c.script]];
        asArray(c.args).forEach((a, i) => fields.push([`args[${i}]`, a]));
        asArray(c.command).forEach((a, i) => fields.push([`command[${i}]`, a]));
        for (const [field, value] of fields) {
            if (typeof value !== "string") continue;
            const m = SUBSTITUTION.exec(value);
            if (m) {
                problems.push(`${who}: ${ref.path}.${field} contains "${m[0]}"; Tekton pastes it into the command text (script injection) — pass it through env (env: [{name: VALUE, value: "${m[0]}"}]) and read "$VALUE" in the script.`);
            }
        }
    }
    return problems;
}

export const scriptsPolicy: ResourceValidationPolicy = {
    name: "scripts",
    description:
        "No $(params.…) or $(tasks.…) substitution inside a Tekton step's script, args or command (script injection): Tekton pastes the " +
        "raw value into the text. Pass the value through the step's env and read the variable in the script (tekton/scripts/).",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        for (const m of checkScripts({ type: args.type, name: args.name, urn: args.urn, props: args.props })) reportViolation(m);
    },
};
