import * as net from "node:net";
import { telepresencePortsIn } from "./telepresencePorts";

/**
 * One entry of `buildEgressCidrs`: where PR build pods may connect. A NetworkPolicy matches addresses, not
 * host names, so the user gives the IP range of each git host or registry and its port(s):
 * `<cidr>:<port>[-<endPort>][/tcp|/udp|/sctp]`, e.g. `140.82.112.0/20:443`, `172.18.0.0/16:5000`,
 * `10.96.0.10/32:53/udp`, `2001:db8::/32:443`.
 */
export interface EgressEntry {
    cidr: string;
    protocol: "TCP" | "UDP" | "SCTP";
    port: number;
    /** Last port of a range; absent for one port. */
    endPort?: number;
}

export const EGRESS_ENTRY_FORMAT = "<cidr>:<port>[-<endPort>][/tcp|/udp|/sctp], e.g. 140.82.112.0/20:443";

const ENTRY = /^([0-9A-Fa-f.:]+)\/([0-9]{1,3}):([0-9]{1,5})(?:-([0-9]{1,5}))?(?:\/(tcp|udp|sctp))?$/i;

/** The address as a bit string of 32 (IPv4) or 128 (IPv6) characters, or undefined. */
function addressBits(ip: string): string | undefined {
    if (net.isIPv4(ip)) {
        const octets = ip.split(".");
        // Leading zeros are read as octal by some tools and refused by Kubernetes' strict validation.
        if (octets.some((o) => o.length > 1 && o.startsWith("0"))) return undefined;
        return octets.map((o) => Number(o).toString(2).padStart(8, "0")).join("");
    }
    if (!net.isIPv6(ip) || ip.includes(".")) return undefined;
    const [head, tail] = ip.split("::");
    const left = head ? head.split(":") : [];
    const right = tail === undefined ? [] : tail ? tail.split(":") : [];
    const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
    return groups.map((g) => parseInt(g, 16).toString(2).padStart(16, "0")).join("");
}

/** Parses one entry; `problem` says what is wrong with it, naming the entry. */
export function parseEgressEntry(text: string): { entry?: EgressEntry; problem?: string } {
    const bad = (why: string) => ({ problem: `entry ${JSON.stringify(text)} ${why}` });
    const m = ENTRY.exec(text.trim());
    if (!m) return bad(`is not ${EGRESS_ENTRY_FORMAT} (NetworkPolicy matches IP ranges, not host names: give the IP ranges of your git hosts and registries)`);
    const [, ip, lenText, portText, endText, proto] = m;
    const bits = addressBits(ip);
    if (!bits) return bad(`has no valid IPv4 or IPv6 address before the '/' (got ${JSON.stringify(ip)})`);
    const len = Number(lenText);
    if (len > bits.length) return bad(`has a prefix length ${len}; at most ${bits.length} for this address`);
    if (bits.slice(len).includes("1")) {
        return bad(`has host bits set after /${len}; write the network address of the range (e.g. 10.0.0.0/8, not 10.0.0.1/8)`);
    }
    const port = Number(portText);
    const endPort = endText === undefined ? undefined : Number(endText);
    if (port < 1 || port > 65535 || (endPort !== undefined && (endPort < port || endPort > 65535))) {
        return bad("has a port outside 1-65535 or a range whose end is below its start");
    }
    const protocol = (proto ?? "tcp").toUpperCase() as EgressEntry["protocol"];
    if (protocol === "TCP") {
        const hit = telepresencePortsIn(port, endPort ?? port);
        if (hit) {
            return bad(`includes Telepresence's TCP ports (${hit}: the traffic manager's API and webhook, the traffic agents' ` +
                "tunnel, SFTP and FTP servers); PR code must not reach them, and an IP range may hold their pods (docs/network-policies.md)");
        }
    }
    const entry: EgressEntry = { cidr: `${ip.toLowerCase()}/${len}`, protocol, port };
    if (endPort !== undefined && endPort !== port) entry.endPort = endPort;
    return { entry };
}

/** Parses entries already validated by the config schema; throws on a bad one (a direct caller's mistake). */
export function parseEgressEntries(texts: readonly string[]): EgressEntry[] {
    return texts.map((t) => {
        const { entry, problem } = parseEgressEntry(t);
        if (!entry) throw new Error(`buildEgressCidrs: ${problem}`);
        return entry;
    });
}
