import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

// The only place a PolicyPack is constructed: doing so starts the policy gRPC server, so tests import
// ./policies instead (see README.md).
new PolicyPack("tekton-dag", {
    policies,
    enforcementLevel: "mandatory",
    description: "Guardrails of the tekton-dag PR-testing stack: intercept backends, production, RBAC, privilege, images, scripts, labels, identity.",
});
