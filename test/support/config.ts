import { ConfigError } from "../../lib/config";
import { parseConfig } from "../../lib/loadConfig";

/** Every problem parseConfig reports for raw stack config (none: an empty list). */
export function problemsOf(raw: Record<string, string>): string[] {
    try {
        parseConfig(raw);
        return [];
    } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
    }
}
