/**
 * The ports Telepresence listens on that PR code must never reach (docs/network-policies.md).
 *
 * The traffic manager's two ports are chart values the program sets itself (trafficManagerValues), so the
 * chart and the NetworkPolicies read them from here. The traffic agent is a sidecar injected into staging
 * pods; besides its intercept ports (chart `agent.port`, 9900 and up, which carry the app's own traffic and
 * stay reachable) it serves the client tunnel (gRPC `Tunnel`/`WatchDial`), SFTP and FTP on ports it asks
 * the kernel for (it listens on port 0), i.e. from the pod's `net.ipv4.ip_local_port_range`, 32768-60999
 * by default. Upstream says those accept any peer and trust a caller-declared session id (FACTS.md,
 * "Telepresence personal intercepts"). The policies block the whole range from 32768 up.
 */

/** Chart `apiPort`: the traffic manager's gRPC API (clients, agents). */
export const TRAFFIC_MANAGER_API_PORT = 8081;

/** Chart `agentInjector.webhook.port`: the manager's agent-injector webhook. */
export const AGENT_INJECTOR_WEBHOOK_PORT = 8443;

/** Ports of the traffic manager pod, all TCP. */
export const TRAFFIC_MANAGER_PORTS: readonly number[] = [TRAFFIC_MANAGER_API_PORT, AGENT_INJECTOR_WEBHOOK_PORT];

/**
 * TCP ports the traffic agent may bind for its tunnel, SFTP and FTP servers: Linux's default ephemeral
 * range starts at 32768; everything above is included (its end, 60999, is a sysctl too).
 */
export const AGENT_DYNAMIC_PORTS = { from: 32768, to: 65535 } as const;

/** A TCP port range [from, to] that overlaps a Telepresence port, described; undefined when it does not. */
export function telepresencePortsIn(from: number, to: number): string | undefined {
    const hits: string[] = TRAFFIC_MANAGER_PORTS.filter((p) => p >= from && p <= to).map(String);
    if (to >= AGENT_DYNAMIC_PORTS.from && from <= AGENT_DYNAMIC_PORTS.to) hits.push(`${AGENT_DYNAMIC_PORTS.from}-${AGENT_DYNAMIC_PORTS.to}`);
    return hits.length > 0 ? hits.join(", ") : undefined;
}

/**
 * The complement of the Telepresence ports in 1-65535 (what PR code may still reach on TCP where a
 * NetworkPolicy peer could be a Telepresence pod), as [from, to] ranges in order.
 */
export function tcpPortsOutsideTelepresence(excludeManager: boolean): Array<[number, number]> {
    const blocked = [...(excludeManager ? TRAFFIC_MANAGER_PORTS : [])].sort((a, b) => a - b);
    const ranges: Array<[number, number]> = [];
    let next = 1;
    for (const p of blocked) {
        if (p > next) ranges.push([next, p - 1]);
        next = p + 1;
    }
    if (next < AGENT_DYNAMIC_PORTS.from) ranges.push([next, AGENT_DYNAMIC_PORTS.from - 1]);
    return ranges;
}
