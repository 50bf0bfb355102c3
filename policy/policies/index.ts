/**
 * Every policy of the tekton-dag pack and their pure check functions. Importing this module has no side
 * effects (no PolicyPack, no gRPC server) and loads nothing from @pulumi/policy at run time, so tests call
 * the checks and the validate functions directly; ../index.ts turns `policies` into the pack.
 */
import type { Policies } from "@pulumi/policy";
import { backendPolicy } from "./backend";
import { productionPolicy } from "./production";
import { rbacPolicy } from "./rbac";
import { privilegePolicy } from "./privilege";
import { imagesPolicy } from "./images";
import { scriptsPolicy } from "./scripts";
import { labelsPolicy } from "./labels";
import { identityPolicy } from "./identity";

export * from "./common";
export * from "./backend";
export * from "./production";
export * from "./rbac";
export * from "./privilege";
export * from "./images";
export * from "./scripts";
export * from "./labels";
export * from "./identity";
export * from "./run";

export const policies: Policies = [
    backendPolicy,
    productionPolicy,
    rbacPolicy,
    privilegePolicy,
    imagesPolicy,
    scriptsPolicy,
    labelsPolicy,
    identityPolicy,
];

export type {
    EnforcementLevel, Policies, PolicyPackConfig, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy,
    StackValidationArgs, StackValidationPolicy,
} from "@pulumi/policy";
