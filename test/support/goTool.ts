import { execFileSync } from "child_process";
import * as path from "path";
import { REPO } from "./repo";

const built = new Map<string, string>();

/**
 * The path of tools/NAME built by scripts/go-tool.sh (cached outside the repo; the first call on a machine
 * builds it, printing progress). Fails, never skips, when Go or the module proxy is missing.
 */
export function goTool(name: string): string {
    if (!built.has(name)) {
        const out = execFileSync("bash", [path.join(REPO, "scripts", "go-tool.sh"), name], {
            encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 30 * 60 * 1000,
        });
        built.set(name, out.trim());
    }
    return built.get(name)!;
}
