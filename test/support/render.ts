import { kubernetesObjects, renderStack, RenderedResource, RenderOptions } from "../../scripts/mocks/render";

/** Renders once per distinct options within a test run; rendering is deterministic. */
const cache = new Map<string, Promise<RenderedResource[]>>();

export function rendered(options: RenderOptions): Promise<RenderedResource[]> {
    const key = JSON.stringify(options);
    if (!cache.has(key)) cache.set(key, renderStack(options));
    return cache.get(key)!;
}

export async function objects(options: RenderOptions): Promise<any[]> {
    return kubernetesObjects(await rendered(options));
}

export function ofKind(objs: any[], kind: string): any[] {
    return objs.filter((o) => o.kind === kind);
}

export function named(objs: any[], kind: string, name: string): any {
    const found = objs.filter((o) => o.kind === kind && o.metadata.name === name);
    if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${found.length}`);
    return found[0];
}

export function paramDefault(obj: any, param: string): unknown {
    return (obj.spec.params ?? []).find((p: any) => p.name === param)?.default;
}
