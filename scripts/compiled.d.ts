// Types of scripts/compiled.js (plain JavaScript: it is what starts the compiled TypeScript).
export interface CompileOptions {
    root: string;
    tsconfig: string;
    out: string;
    files: string[];
    finish?: (tmpDir: string) => void;
    hash?: string;
    what?: string;
    log?: (line: string) => void;
}
export function compileOnce(options: CompileOptions): string;
export function compiledPath(entry: string, log?: (line: string) => void): string;
export function sourceHash(root: string, files: string[]): string;
export function filesUnder(dir: string, exts: string[]): string[];
