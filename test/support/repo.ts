// Where the tests find the repository: one root, the one lib/ already resolves Tekton sources against.
import * as path from "path";
import { REPO_ROOT } from "../../lib/tektonSources";

/** The repository's root directory. */
export const REPO = REPO_ROOT;
/** tekton/scripts: every script a step, pod or CronJob runs, as the tests run them. */
export const SCRIPTS = path.join(REPO, "tekton", "scripts");
