// GitHub's own REST API description (npm @octokit/openapi, api.github.com): what a request the project's
// scripts send must look like — an operation for the method and path, the required body fields, the types,
// enums and length limits of the fields it sends. The GitHub stand-ins answer a request this refuses with
// GitHub's 422, so a script that sends a malformed request fails in the tests as it would against GitHub.
import * as fs from "node:fs";

interface Operation { template: string; responses: string[]; body?: any }

let spec: any;
function load(): any {
    // ~70 MB of JSON, parsed once per process and only by the tests that play GitHub.
    spec ??= JSON.parse(fs.readFileSync(require.resolve("@octokit/openapi/generated/api.github.com.deref.json"), "utf8"));
    return spec;
}

/** The operation of the description that serves `method path` (path without query), if any. */
export function operation(method: string, urlPath: string): Operation | undefined {
    const paths = load().paths as Record<string, any>;
    for (const [template, item] of Object.entries(paths)) {
        const re = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}$`);
        if (!re.test(urlPath)) continue;
        const op = item[method.toLowerCase()];
        if (!op) continue;
        return { template, responses: Object.keys(op.responses ?? {}), body: op.requestBody?.content?.["application/json"]?.schema };
    }
    return undefined;
}

function checkValue(schema: any, value: any, at: string, problems: string[]): void {
    if (!schema || value === undefined) return;
    if (value === null) {
        if (!schema.nullable) problems.push(`${at} may not be null`);
        return;
    }
    if (schema.oneOf || schema.anyOf) {
        const options = schema.oneOf ?? schema.anyOf;
        const ok = options.some((s: any) => { const p: string[] = []; checkValue(s, value, at, p); return p.length === 0; });
        if (!ok) problems.push(`${at} matches none of the allowed shapes`);
        return;
    }
    const type = schema.type;
    const actual = Array.isArray(value) ? "array" : Number.isInteger(value) ? "integer" : typeof value;
    if (type && !(type === actual || (type === "number" && actual === "integer"))) {
        problems.push(`${at} is ${actual}, the description says ${type}`);
        return;
    }
    if (schema.enum && !schema.enum.includes(value)) problems.push(`${at} is ${JSON.stringify(value)}, not one of ${schema.enum.join(", ")}`);
    if (typeof value === "string") {
        if (schema.maxLength !== undefined && value.length > schema.maxLength) problems.push(`${at} is ${value.length} characters, over maxLength ${schema.maxLength}`);
        if (schema.minLength !== undefined && value.length < schema.minLength) problems.push(`${at} is shorter than minLength ${schema.minLength}`);
    }
    if (type === "object" && schema.properties) {
        for (const r of schema.required ?? []) if (!(r in value)) problems.push(`${at}.${r} is required`);
        for (const [k, v] of Object.entries(value)) {
            if (schema.properties[k]) checkValue(schema.properties[k], v, `${at}.${k}`, problems);
            else if (schema.additionalProperties === false) problems.push(`${at}.${k} is not a field of the request`);
        }
    }
}

/** What is wrong with the request by GitHub's description (empty: nothing). */
export function requestProblems(method: string, url: string, body: unknown): string[] {
    const urlPath = url.split("?")[0];
    const op = operation(method, urlPath);
    if (!op) return [`GitHub has no operation ${method} ${urlPath}`];
    const problems: string[] = [];
    if (op.body) {
        if (body === undefined || body === null) problems.push(`${method} ${op.template} needs a JSON body`);
        else checkValue(op.body, body, "body", problems);
    }
    return problems;
}

/** The success status GitHub documents for the operation (201 for a create). */
export function successStatus(method: string, url: string): number {
    const op = operation(method, url.split("?")[0]);
    const ok = (op?.responses ?? []).map(Number).filter((c) => c >= 200 && c < 300).sort();
    return ok[0] ?? 200;
}
