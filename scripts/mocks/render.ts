import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { parseConfig } from "../../lib/loadConfig";
import { PROJECT } from "../../lib/config";
import { deploy } from "../../program";
import { readStackConfig } from "../../lib/stackFiles";

export interface RenderedResource {
    /** Pulumi type token, e.g. `kubernetes:tekton.dev/v1:Task`. */
    type: string;
    /** Pulumi resource name. */
    name: string;
    /** The inputs the program registered (for Kubernetes objects: the object itself). */
    inputs: any;
    /** A read of an existing object (`Resource.get`), not one the program would create. */
    read?: boolean;
}

export interface RenderOptions {
    /** Stack whose Pulumi.<stack>.yaml is read; omit for the built-in defaults only. */
    stack?: string;
    /** Config keys set on top, unqualified (`interceptBackend`) or qualified (`tekton-dag:interceptBackend`). */
    overrides?: Record<string, string>;
    /** Register as a preview (`pulumi preview`) instead of an update. */
    preview?: boolean;
}

/** A stable fake digest per image name, so tests can follow it from the image to the Task params. */
export function fakeDigest(imageName: string): string {
    return `sha256:${crypto.createHash("sha256").update(imageName).digest("hex")}`;
}

function mockState(args: pulumi.runtime.MockResourceArgs): Record<string, any> {
    if (args.type === "docker:index/image:Image") {
        const imageName: string = args.inputs.imageName;
        const repo = imageName.replace(/:[^:/]+$/, "");
        return { ...args.inputs, repoDigest: `${repo}@${fakeDigest(imageName)}` };
    }
    return args.inputs;
}

/**
 * Runs the program under Pulumi mocks for a stack's config (plus overrides) and returns every resource it
 * registers. Bad config throws the same ConfigError `pulumi up` shows, before anything is registered.
 */
export async function renderStack(options: RenderOptions = {}): Promise<RenderedResource[]> {
    const raw = options.stack ? readStackConfig(options.stack) : {};
    for (const [key, value] of Object.entries(options.overrides ?? {})) {
        raw[key.includes(":") ? key : `${PROJECT}:${key}`] = value;
    }
    const config = parseConfig(raw);

    const resources: RenderedResource[] = [];
    await pulumi.runtime.setMocks({
        newResource(args) {
            resources.push({ type: args.type, name: args.name, inputs: args.inputs, ...(args.id ? { read: true } : {}) });
            return { id: `${args.name}-id`, state: mockState(args) };
        },
        call(args) {
            return args.inputs;
        },
    }, PROJECT, options.stack ?? "default", options.preview ?? false);

    deploy(config);
    await pulumi.runtime.disconnect();
    return resources;
}

/** The Kubernetes objects among rendered resources (what the cluster would receive). */
export function kubernetesObjects(resources: RenderedResource[]): any[] {
    return resources
        .filter((r) => r.type.startsWith("kubernetes:") && r.inputs?.apiVersion && r.inputs?.kind)
        .map((r) => r.inputs);
}
