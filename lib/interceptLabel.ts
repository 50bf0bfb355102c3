/**
 * A PR label chooses the intercept backend of that PR's webhook runs: `tekton-dag/intercept:<backend>`.
 * Tekton Triggers' cel interceptor turns the delivery's labels into one value (an overlay, read by the
 * binding as `$(extensions.intercept_backend)`); check-intercept-backend then fails a run whose value is not
 * a backend, naming the allowed ones. docs/intercept-backends.md ("Choosing the backend of a PR").
 */
import { INTERCEPT_BACKENDS } from "./config";

/** The label's prefix; what follows it (blank space trimmed, lower-cased) is the backend. */
export const INTERCEPT_LABEL_PREFIX = "tekton-dag/intercept:";
/** The interceptor extension the chosen backend is handed to the binding in. */
export const INTERCEPT_BACKEND_EXTENSION = "intercept_backend";
/** The binding's value of the run's `intercept-backend` param. */
export const INTERCEPT_BACKEND_BINDING = `$(extensions.${INTERCEPT_BACKEND_EXTENSION})`;

/**
 * The CEL expression of the backend a delivery chooses, `labelsPath` being the delivery's label list
 * (`body.pull_request.labels`, or `body.issue.labels` of a comment on a PR). No intercept label: the stack
 * config's backend. Labels that agree (GitHub names labels case-insensitively): their value, even one that is
 * no backend, so that check-intercept-backend fails the run naming the allowed ones. Labels that disagree:
 * a value naming them, which is no backend either.
 */
export function interceptBackendExpression(labelsPath: string, defaultBackend: string): string {
    if (!(INTERCEPT_BACKENDS as readonly string[]).includes(defaultBackend)) {
        throw new Error(`the default intercept backend must be one of ${INTERCEPT_BACKENDS.join(", ")}; got ${JSON.stringify(defaultBackend)}`);
    }
    if (!/^body(\.[a-z_]+)+$/.test(labelsPath)) throw new Error(`labelsPath must be a field path like body.pull_request.labels; got ${JSON.stringify(labelsPath)}`);
    const prefix = `'${INTERCEPT_LABEL_PREFIX}'`;
    // CEL has no variables here (the cel interceptor loads no bindings extension), so the list is spelled out.
    const values = `(has(${labelsPath}) ? ${labelsPath} : []).map(l, l.name.lowerAscii())`
        + `.filter(n, n.startsWith(${prefix})).map(n, n.substring(${INTERCEPT_LABEL_PREFIX.length}).trim()).distinct()`;
    const conflict = `'conflicting PR labels ' + ${values}.sort().map(v, ${prefix} + v).join(', ')`;
    return `size(${values}) == 0 ? '${defaultBackend}' : (size(${values}) == 1 ? ${values}[0] : ${conflict})`;
}

/** The cel interceptor overlay that sets the extension the binding reads. */
export function interceptBackendOverlay(labelsPath: string, defaultBackend: string): { key: string; expression: string } {
    return { key: INTERCEPT_BACKEND_EXTENSION, expression: interceptBackendExpression(labelsPath, defaultBackend) };
}
