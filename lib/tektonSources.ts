import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

/**
 * The repository root: where tekton/, images/ and stacks/ live. Found upwards from this file, which runs from
 * lib/ under ts-node and from .build/<hash>/lib/ compiled (scripts/compiled.js).
 */
export const REPO_ROOT = findRepoRoot(__dirname);

function findRepoRoot(from: string): string {
    for (let dir = from; ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "Pulumi.yaml")) && fs.existsSync(path.join(dir, "tekton"))) return dir;
        if (path.dirname(dir) === dir) throw new Error(`no repository root (a directory with Pulumi.yaml and tekton/) above ${from}`);
    }
}
export const TEKTON_DIR = path.join(REPO_ROOT, "tekton");
export const SCRIPTS_VOLUME = "tekton-dag-scripts";
/** r-x for all: the scripts run as whatever uid the step image uses. */
export const SCRIPTS_MODE = 0o555;

export interface KubeObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    [key: string]: any;
}

/** Reads one YAML document and checks it is the kind of object its folder promises. */
export function readObject(file: string, expectedKind: string): KubeObject {
    let doc: any;
    try {
        doc = YAML.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
        throw new Error(`${path.relative(REPO_ROOT, file)}: not valid YAML: ${(err as Error).message}`);
    }
    const rel = path.relative(REPO_ROOT, file);
    if (!doc || doc.kind !== expectedKind) {
        throw new Error(`${rel}: expected a ${expectedKind}; got kind ${JSON.stringify(doc?.kind)}`);
    }
    const expectedName = path.basename(file).replace(/\.ya?ml$/, "");
    if (doc.metadata?.name !== expectedName) {
        throw new Error(`${rel}: metadata.name must equal the file name ${JSON.stringify(expectedName)}; got ${JSON.stringify(doc.metadata?.name)}`);
    }
    return doc as KubeObject;
}

/** Every object of a folder under tekton/, sorted by name so the program's order is stable. */
export function readFolder(folder: string, expectedKind: string): KubeObject[] {
    const dir = path.join(TEKTON_DIR, folder);
    if (!fs.existsSync(dir)) return [];
    return fs
        .readdirSync(dir)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
        .map((f) => readObject(path.join(dir, f), expectedKind));
}

/** The scripts the steps run, keyed by file name, with a short hash of all of them. */
export function readScripts(): { files: Record<string, string>; hash: string } {
    const dir = path.join(TEKTON_DIR, "scripts");
    const files: Record<string, string> = {};
    const digest = crypto.createHash("sha256");
    if (fs.existsSync(dir)) {
        for (const name of fs.readdirSync(dir).sort()) {
            const full = path.join(dir, name);
            if (!fs.statSync(full).isFile()) continue;
            files[name] = fs.readFileSync(full, "utf8");
            digest.update(name).update("\0").update(files[name]).update("\0");
        }
    }
    return { files, hash: digest.digest("hex").slice(0, 10) };
}

/** Sets the default of every declared param whose name has a config-driven value. */
export function withParamDefaults<T extends KubeObject>(obj: T, defaults: Record<string, string>): T {
    const copy = structuredClone(obj);
    for (const param of copy.spec?.params ?? []) {
        if (Object.prototype.hasOwnProperty.call(defaults, param.name)) param.default = defaults[param.name];
    }
    return copy;
}

/** Points the scripts volume of a Task at the content-addressed scripts ConfigMap. */
export function withScriptsConfigMap<T extends KubeObject>(obj: T, configMapName: string): T {
    const copy = structuredClone(obj);
    for (const volume of copy.spec?.volumes ?? []) {
        if (volume.name === SCRIPTS_VOLUME && volume.configMap) {
            // Executable for everyone, whatever the YAML says (0555 is 555 decimal to a YAML 1.2 reader).
            volume.configMap = { ...volume.configMap, name: configMapName, defaultMode: SCRIPTS_MODE };
        }
    }
    return copy;
}

/** Puts the object in a namespace and merges the common labels into its own. */
export function placed<T extends KubeObject>(obj: T, namespace: string, labels: Record<string, string>): T {
    const copy = structuredClone(obj);
    copy.metadata = { ...copy.metadata, namespace, labels: { ...(copy.metadata.labels ?? {}), ...labels } };
    return copy;
}
