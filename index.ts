import { tektonDagProgram } from "./program";

// The program lives in program.ts, shared with the Automation API runner (scripts/pulumi-run.ts).
// Config errors surface there, before any resource is registered.
const outputs = tektonDagProgram();

export const pipelinesNamespace = outputs.pipelinesNamespace;
export const interceptBackendDefault = outputs.interceptBackendDefault;
export const mirrordImage = outputs.mirrordImage;
export const telepresenceImage = outputs.telepresenceImage;
export const tasks = outputs.tasks;
export const pipelines = outputs.pipelines;
export const eventListener = outputs.eventListener;
