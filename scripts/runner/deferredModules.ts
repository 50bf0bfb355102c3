/**
 * Loading this module defers, in the process that loads it, the modules @pulumi/pulumi loads at start for
 * one feature neither our program nor our policy pack uses: closure serialization
 * (pulumi.runtime.serializeFunction, for dynamic providers and function-valued resource inputs), which needs
 * TypeScript's compiler and npm's package-tree reader. They are most of the SDK's start-up: measured on 2
 * cores, the program's import takes 0.25 s instead of 0.59 s, and the policy analyzer's start 0.14 s
 * instead of 0.5 s. Every runner operation pays both (issue 18).
 *
 * pulumi-run imports this module before anything else; the analyzer, a Node.js process the engine starts,
 * gets it through NODE_OPTIONS (nodeOptionsWithDeferral). Neither changes what the SDK does: a deferred module
 * is a stand-in that loads the real one the first time anything of it is used, so a program that does
 * serialize a function gets the real compiler, a moment later. A module that cannot be resolved is not deferred,
 * so the SDK's own fallbacks for a missing one (typescript-shim.js) behave as before.
 */
import Module = require("module");

/** What @pulumi/pulumi requires only for closure serialization (runtime/closure/*, typescript-shim.js). */
export const DEFERRED_MODULES: readonly string[] = ["typescript", "@npmcli/arborist", "normalize-package-data"];

/** Files of @pulumi/pulumi itself (any copy of it: ours, or the policy pack's own); not its dependencies'. */
const SDK_FILE = /[\\/]node_modules[\\/]@pulumi[\\/]pulumi[\\/](?!node_modules[\\/])/;

type Loader = (request: string, parent: NodeModule | undefined, isMain: boolean) => unknown;
const moduleApi = Module as unknown as { _load: Loader; _resolveFilename: (request: string, parent: NodeModule | undefined) => string };
const INSTALLED = Symbol.for("tekton-dag.deferredModules");

/**
 * A stand-in for a module, loading it at the first use. It says it is an ES module and hands out the module
 * itself as its default, so that TypeScript's import helpers (__importStar, __importDefault) keep the stand-in
 * as it is, instead of copying the module's properties (which would load it at once), and give the same
 * results as with the real CommonJS module.
 */
export function deferredModule(load: () => any): unknown {
    let real: any;
    const module = () => (real ??= load());
    // A function target, so that a module that is a function (normalize-package-data) can be called; an arrow
    // function, whose own properties (length, name) are all configurable, so the traps below may report the
    // module's properties instead of them.
    return new Proxy(() => undefined, {
        get: (_t, key) => {
            if (key === "__esModule") return true;
            if (key === "default") return module().default ?? module();
            return module()[key];
        },
        has: (_t, key) => key in module(),
        set: (_t, key, value) => { module()[key] = value; return true; },
        ownKeys: () => Reflect.ownKeys(module()),
        getOwnPropertyDescriptor: (_t, key) => {
            const descriptor = Reflect.getOwnPropertyDescriptor(module(), key);
            return descriptor && { ...descriptor, configurable: true };
        },
        apply: (_t, self, args) => Reflect.apply(module(), self, args),
    });
}

function install(): void {
    const registry = globalThis as Record<symbol, unknown>;
    if (registry[INSTALLED]) return;
    registry[INSTALLED] = true;
    const load = moduleApi._load;
    moduleApi._load = function (this: unknown, request, parent, isMain) {
        if (DEFERRED_MODULES.includes(request) && parent?.filename && SDK_FILE.test(parent.filename)) {
            try {
                moduleApi._resolveFilename(request, parent);
            } catch {
                return load.call(this, request, parent, isMain); // the real loader's error, as without deferral
            }
            return deferredModule(() => load.call(moduleApi, request, parent, false));
        }
        return load.call(this, request, parent, isMain);
    } as Loader;
}

install();

/**
 * NODE_OPTIONS for a child process (the engine, and through it the analyzer) that loads this module first,
 * keeping what `current` already holds. `current` as it is when this module is not plain JavaScript (under
 * ts-node) and so cannot be given to a plain `node`: the child then starts as it would without it.
 */
export function nodeOptionsWithDeferral(current: string | undefined): string | undefined {
    if (!__filename.endsWith(".js")) return current;
    // NODE_OPTIONS reads a double-quoted value with backslash escapes, so any path fits.
    const preload = `--require "${__filename.replace(/["\\]/g, "\\$&")}"`;
    return current ? `${current} ${preload}` : preload;
}
