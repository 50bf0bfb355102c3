/**
 * The stack config keys the docs name are the ones the program reads (issue 23). The key list comes from the
 * schema object itself (lib/config.ts), never from a copy: docs/config.md has one `### \`key\`` section per
 * schema key with the schema's default, every `tekton-dag:<key>` and every key in a docs table exists, and a
 * key removed on purpose (REMOVED_CONFIG_KEYS) is named only as removed.
 */
import { strict as assert } from "node:assert";
import { configSchema, PROJECT, REMOVED_CONFIG_KEYS } from "../../lib/config";
import { proseOf } from "./references";
import { docPages, readPage } from "./repoDocs";

const SCHEMA_KEYS = Object.keys(configSchema.shape);
const DEFAULTS: Record<string, unknown> = configSchema.parse({});
const REFERENCE = "docs/config.md";

/** The sections of the reference page: `### \`key\`` and the section's text up to the next heading. */
function sections(text: string): Map<string, string> {
    const out = new Map<string, string>();
    const parts = proseOf(text).split(/^(#{1,6} .*)$/m);
    for (let i = 1; i < parts.length; i += 2) {
        const m = /^### `([^`]+)`\s*$/.exec(parts[i]);
        if (m) {
            assert.ok(!out.has(m[1]), `${REFERENCE}: two sections for ${m[1]}`);
            out.set(m[1], parts[i + 1] ?? "");
        }
    }
    return out;
}

/** How the reference page writes a default: strings as they are, other values as JSON. */
function shown(value: unknown): string {
    return typeof value === "string" && value !== "" ? value : JSON.stringify(value);
}

/** Every `tekton-dag:<key>` of a page (code blocks included: a command there is copied as it is). */
function namespacedKeys(text: string): Array<{ line: number; key: string }> {
    const out: Array<{ line: number; key: string }> = [];
    text.split("\n").forEach((line, i) => {
        for (const m of line.matchAll(new RegExp(`\\b${PROJECT}:([A-Za-z][A-Za-z0-9]*)\\b(?!:)`, "g"))) out.push({ line: i + 1, key: m[1] });
    });
    return out;
}

/** The keys in the first column of every table whose first header cell says "key". */
function tableKeys(text: string): Array<{ line: number; key: string }> {
    const out: Array<{ line: number; key: string }> = [];
    let inKeyTable = false;
    proseOf(text).split("\n").forEach((line, i) => {
        if (!line.startsWith("|")) {
            inKeyTable = false;
            return;
        }
        const first = line.split("|")[1].trim();
        if (/^(config )?key$/i.test(first)) inKeyTable = true;
        else if (inKeyTable && !/^-+$/.test(first)) for (const m of first.matchAll(/`([^`]+)`/g)) out.push({ line: i + 1, key: m[1] });
    });
    return out;
}

describe("config keys in the docs against the schema (lib/config.ts)", () => {
    it(`${REFERENCE} has exactly one section per schema key, each opening with the schema's default`, () => {
        const page = sections(readPage(REFERENCE));
        assert.deepEqual([...page.keys()].filter((k) => !SCHEMA_KEYS.includes(k)), [], "sections naming no schema key");
        assert.deepEqual(SCHEMA_KEYS.filter((k) => !page.has(k)), [], "schema keys without a section");
        for (const [key, body] of page) {
            const line = /^Default: (.*)$/m.exec(body)?.[1];
            assert.ok(line, `${REFERENCE}, ${key}: a "Default:" line`);
            const value = DEFAULTS[key];
            if (value === undefined) {
                assert.match(line, /^unset\b/, `${REFERENCE}, ${key}: the schema has no default (it is derived or required)`);
            } else {
                assert.equal(line, `\`${shown(value)}\``, `${REFERENCE}, ${key}: the schema's default`);
            }
        }
    });

    it("every tekton-dag:<key> and every key of a config table in README.md and docs/*.md is a schema key", () => {
        const unknown: string[] = [];
        for (const page of docPages()) {
            const text = readPage(page);
            for (const { line, key } of [...namespacedKeys(text), ...tableKeys(text)]) {
                if (!SCHEMA_KEYS.includes(key)) unknown.push(`${page}:${line}: ${key}`);
            }
        }
        assert.deepEqual(unknown, [], `not keys of the schema (${SCHEMA_KEYS.length} keys)`);
    });

    it("a removed key is named only as removed", () => {
        const found: string[] = [];
        for (const page of docPages()) {
            readPage(page).split("\n").forEach((line, i) => {
                for (const key of Object.keys(REMOVED_CONFIG_KEYS)) {
                    if (line.includes(key) && !/\bremoved\b/i.test(line)) found.push(`${page}:${i + 1}: ${key}`);
                }
            });
        }
        assert.deepEqual(found, []);
    });

    it("the checks find keys where the docs name them (table and tekton-dag:<key> readers work)", () => {
        assert.ok(SCHEMA_KEYS.length > 30, "schema keys read from the schema object");
        const webhook = readPage("docs/webhook.md");
        assert.deepEqual(tableKeys(webhook).map((k) => k.key), ["githubWebhookSecret", "githubTokenSecret", "prImagePushSecret"]);
        assert.deepEqual(namespacedKeys("pulumi config set tekton-dag:forkTestLabl x; type tekton-dag:index:Stack").map((k) => k.key), ["forkTestLabl"]);
        assert.deepEqual(tableKeys("| key | default |\n| --- | --- |\n| `a`, `b` | x |\n\n| app | x |\n| `c` | y |").map((k) => k.key), ["a", "b"]);
    });
});
