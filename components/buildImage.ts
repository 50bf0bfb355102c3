import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../lib/tektonSources";

export interface BuildImageArgs {
    /** Folder under images/ holding the Dockerfile; also the image's repository name. */
    readonly imageName: string;
    /** Tag pushed beside the digest, e.g. the main tool's version. */
    readonly tag: pulumi.Input<string>;
    /** Registry `pulumi up` pushes to, as seen from the machine running Pulumi (kind: localhost:5001). */
    readonly registryPush: pulumi.Input<string>;
    /** Registry name cluster nodes pull by; the pushed digest is re-addressed to it. */
    readonly registryPull: pulumi.Input<string>;
    /** Docker build args (pinned tool versions). */
    readonly buildArgs?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Target platform; the kind nodes are linux/amd64 unless told otherwise. */
    readonly platform?: pulumi.Input<string>;
}

/** The default of `ARG <name>=<value>` in images/<imageName>/Dockerfile, where versions and checksums are pinned together. */
export function dockerfileArg(imageName: string, arg: string): string | undefined {
    const dockerfile = fs.readFileSync(path.join(REPO_ROOT, "images", imageName, "Dockerfile"), "utf8");
    return dockerfile.match(new RegExp(`^ARG ${arg}=(\\S+)$`, "m"))?.[1];
}

/**
 * The version a config key asks for must be the one the Dockerfile pins with its checksums; a different
 * version would fail the build halfway through `pulumi up`, so say so before anything starts.
 */
export function checkPinnedVersion(imageName: string, arg: string, configKey: string, wanted: string): void {
    const pinned = dockerfileArg(imageName, arg);
    if (pinned !== wanted) {
        throw new Error(`tekton-dag:${configKey} is "${wanted}" but images/${imageName}/Dockerfile pins ${arg}=${pinned} ` +
            `with its checksums; change the Dockerfile's version and checksums together, or set ${configKey} to "${pinned}"`);
    }
}

/** Re-addresses `push-registry/name@sha256:…` to the registry name the nodes pull by. */
export function pullReference(repoDigest: string, registryPush: string, registryPull: string): string {
    if (!repoDigest.startsWith(`${registryPush}/`)) {
        throw new Error(`pushed image ${repoDigest} is not in registry ${registryPush}`);
    }
    return `${registryPull}/${repoDigest.slice(registryPush.length + 1)}`;
}

/**
 * Builds an image from images/<imageName> and pushes it. `pullRef` is the pushed image by digest under
 * the registry name nodes use, so Tasks that default to it change whenever the image does.
 */
export class BuildImage extends pulumi.ComponentResource {
    /** `<registryPull>/<imageName>@sha256:…` */
    public readonly pullRef: pulumi.Output<string>;
    public readonly image: docker.Image;

    constructor(name: string, args: BuildImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tekton-dag:index:BuildImage", name, {}, opts);

        const context = path.join(REPO_ROOT, "images", args.imageName);
        this.image = new docker.Image(name, {
            imageName: pulumi.interpolate`${args.registryPush}/${args.imageName}:${args.tag}`,
            build: {
                context,
                dockerfile: path.join(context, "Dockerfile"),
                platform: args.platform ?? "linux/amd64",
                args: args.buildArgs,
            },
            skipPush: false,
        }, { parent: this });

        this.pullRef = pulumi.all([this.image.repoDigest, args.registryPush, args.registryPull])
            .apply(([digest, push, pull]) => pullReference(digest, push, pull));
        this.registerOutputs({ pullRef: this.pullRef });
    }
}
