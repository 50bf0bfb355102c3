import { DEFERRED_MODULES } from "../../scripts/runner/deferredModules";

/**
 * JavaScript source for a child Node.js process: a function `loaded()` giving which of the modules
 * scripts/runner/deferredModules.ts defers that process has loaded (by its require cache).
 */
export const LOADED_DEFERRED_MODULES_JS =
    `const loaded = () => ${JSON.stringify(DEFERRED_MODULES)}.filter((m) => Object.keys(require.cache).some((f) => f.includes("/node_modules/" + m + "/")));`;
