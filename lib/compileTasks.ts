/**
 * The compile-<tool> Tasks, built from one shape and a table of tools (issue 19): they differ only in their
 * tool, its image and what the description says it runs. Every one runs tekton/scripts/compile-app.sh with
 * BUILD_TOOL fixed; the script holds what each tool does. stack-pr-test's compile stage is built from the same
 * table (lib/compileStage.ts). A tool added here needs its case in compile-app.sh and a build-tool value
 * resolve-stack can report.
 */
import { param, paramEnv, scriptTask, SHARED_WORKSPACE_ENV } from "./scriptTask";
import { KubeObject } from "./tektonSources";

export interface CompileTool {
    /** BUILD_TOOL and the Task's name suffix. */
    tool: string;
    /** Catalog tags besides the tool's name and "build". */
    tags: string[];
    /** What the description says compiles: the toolchain and the commands compile-app.sh runs. */
    runs: string;
    /** The default image (pinned tag; docs/pinned-images.md). */
    image: string;
    /** Extra environment of the compile step. */
    env?: Array<{ name: string; value: string }>;
}

export const COMPILE_TOOLS: readonly CompileTool[] = [
    { tool: "npm", tags: [], runs: "Node.js (npm ci / npm install, then npm run build when the package defines it)",
        image: "docker.io/library/node:22.20.0-bookworm-slim" },
    { tool: "maven", tags: [], runs: "Maven (mvnw or mvn -B package -DskipTests)",
        image: "docker.io/library/maven:3.9.15-eclipse-temurin-21" },
    { tool: "gradle", tags: [], runs: "Gradle (gradlew or gradle assemble)", image: "docker.io/library/gradle:8.14.2-jdk21" },
    { tool: "pip", tags: ["python"], runs: "Python (pip install into a venv outside the build context, then compileall)",
        image: "docker.io/library/python:3.12.11-slim-bookworm" },
    // The composer image runs as root, where composer otherwise refuses to run plugins and scripts.
    { tool: "composer", tags: ["php"], runs: "PHP (composer install)", image: "docker.io/library/composer:2.8.10",
        env: [{ name: "COMPOSER_ALLOW_SUPERUSER", value: "1" }] },
];

/** The Task compile-<tool>. */
export function compileTask(t: CompileTool): KubeObject {
    return scriptTask({
        name: `compile-${t.tool}`,
        version: "0.1.0",
        catalog: { minVersion: "1.0.0", categories: "Build Tools", tags: [t.tool, ...t.tags, "build"],
            displayName: `compile with ${t.tool}`, platforms: "linux/amd64,linux/arm64" },
        description: "Compiles the changed app's checkout at .tekton-dag/runs/<run-id>/apps/<app> in the shared workspace " +
            `with ${t.runs}. Unit tests are left to the app's own CI. Dependency caches live in ` +
            `.tekton-dag/cache/${t.tool} of the shared workspace. Runs only when resolve-stack reports build tool "${t.tool}".`,
        params: [
            { name: "app", description: "The app to compile (the pipeline's changed-app)." },
            { name: "run-id", description: "The PipelineRun uid; selects the run's directory in the shared workspace." },
            { name: "context-dir", default: ".",
                description: "Directory inside the app checkout that holds the build file (the stack's contextDir)." },
            { name: "image", default: t.image,
                description: `Image with the ${t.tool} toolchain (pinned tag; pin a digest in the stack config).` },
        ],
        workspaces: [{ name: "shared-workspace", description: "The pipeline's shared workspace." }],
        step: {
            name: "compile",
            imageParam: "image",
            script: "compile-app.sh",
            env: [
                { name: "BUILD_TOOL", value: t.tool },
                ...["app", "run-id", "context-dir"].map(paramEnv),
                { name: "COMPILE_IMAGE", value: param("image") },
                SHARED_WORKSPACE_ENV,
                ...(t.env ?? []),
            ],
        },
    });
}
