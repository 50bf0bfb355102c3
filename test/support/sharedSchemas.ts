/**
 * Upstream schemas live beside the repository, in ../shared/schemas, not in it: a fresh clone has none. A test
 * that needs one asks for it here. Where the file is absent the test reports itself skipped with the reason,
 * except under CI=true, where the schema must be there and its absence fails the test.
 * TEKTON_DAG_SHARED_DIR names another place for ../shared (the fresh-clone test points it at an empty folder).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO } from "./repo";

export function sharedSchemaPath(file: string): string {
    const shared = process.env.TEKTON_DAG_SHARED_DIR || path.resolve(REPO, "..", "shared");
    return path.join(shared, "schemas", file);
}

/**
 * The path of shared schema `file`, or the calling test or hook skipped (failed under CI=true) naming the
 * missing file. Call it from a test or a `before` hook with mocha's `this`.
 */
export function requireSharedSchema(ctx: Mocha.Context, file: string): string {
    const where = sharedSchemaPath(file);
    if (fs.existsSync(where)) return where;
    const why = `the upstream schema ${where} is absent (it lives beside the repository, in ../shared/schemas)`;
    if (process.env.CI === "true") throw new Error(`${why}; CI=true requires it`);
    console.log(`      skipped: ${why}`);
    ctx.skip();
}
