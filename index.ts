import * as pulumi from "@pulumi/pulumi";
import { parseConfig } from "./lib/loadConfig";
import { deploy } from "./lib/program";

// Config errors surface here, before any resource is registered.
const config = parseConfig(pulumi.runtime.allConfig());
const stack = deploy(config);

export const pipelinesNamespace = stack.pipelinesNamespace;
export const interceptBackendDefault = config.interceptBackend;
export const mirrordImage = stack.mirrordImage;
export const telepresenceImage = stack.telepresenceImage;
export const tasks = stack.taskNames;
export const pipelines = stack.pipelineNames;
export const eventListener = stack.eventListenerName;
