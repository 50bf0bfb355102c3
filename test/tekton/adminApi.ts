import { ADMIN_KUBECONFIG } from "../cluster/harness";
import { KubeApi } from "../support/kubeApi";

let client: KubeApi | undefined;

/** The admin's in-process reads of the local API server, for the loops that poll (one client per test process). */
export function api(): KubeApi {
    return (client ??= new KubeApi(ADMIN_KUBECONFIG));
}
