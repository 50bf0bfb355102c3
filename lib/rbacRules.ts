import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { z } from "zod";
import { TEKTON_DIR } from "./tektonSources";

const noWildcard = z.string().min(1).refine((v) => !v.includes("*"), "wildcards are not allowed");

const ruleFileSchema = z.strictObject({
    /** Name of the Role and of its RoleBinding. */
    role: z.string().min(1),
    /** ServiceAccount bound to the Role. */
    subject: z.string().min(1),
    /** Where that ServiceAccount lives: the pipelines namespace, or the target namespace the Role is in. */
    subjectNamespace: z.enum(["pipelines", "target"]),
    /** Namespaces that get the Role. */
    roleNamespaces: z.enum(["pipelines", "target", "telepresence"]),
    /** `intercepts`: only installed when intercept tooling is enabled. */
    requires: z.enum(["intercepts"]).optional(),
    rules: z.array(z.strictObject({
        apiGroups: z.array(z.string().refine((v) => !v.includes("*"), "wildcards are not allowed")).min(1),
        resources: z.array(noWildcard).min(1),
        verbs: z.array(noWildcard).min(1),
        resourceNames: z.array(noWildcard).optional(),
    })),
});

export type RuleFile = z.infer<typeof ruleFileSchema> & { file: string };

/** Reads every tekton/rbac/*.yaml; a malformed file fails naming the file and the field. */
export function readRuleFiles(dir = path.join(TEKTON_DIR, "rbac")): RuleFile[] {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => {
        const parsed = ruleFileSchema.safeParse(YAML.parse(fs.readFileSync(path.join(dir, f), "utf8")));
        if (!parsed.success) {
            const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`);
            throw new Error(`tekton/rbac/${f} is not a valid rule file: ${problems.join("; ")}`);
        }
        return { ...parsed.data, file: f };
    });
}
