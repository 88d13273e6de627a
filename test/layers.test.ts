import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The house's one-way flow, held: corpus -> embed -> index -> retrieve/prompt -> eval -> service/keys -> the doors (server,
 * CLI) -> the package's entry points. A module imports its own folder, leaves (errors, settings, paths, random, chars,
 * metrics) and folders below it, never one above; and only settings.ts and the CLI read the environment.
 */
const SRC = resolve(__dirname, '..', 'src');
const LAYER: Record<string, number> = {
  '.': 0, corpus: 1, embed: 2, index: 3, retrieve: 4, prompt: 4, eval: 5, writes: 5, service: 6, keys: 6, server: 7, cli: 8,
};
const ENTRY_POINTS = new Set(['index.ts', 'langchain.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : /\.(ts|mjs)$/.test(e.name) ? [join(dir, e.name)] : []));
}

function layerOf(file: string): number {
  const rel = relative(SRC, file);
  if (ENTRY_POINTS.has(rel)) return 10;
  const folder = rel.includes('/') ? rel.split('/')[0] : '.';
  return LAYER[folder];
}

describe('layers', () => {
  const files = sources(SRC);

  it('every folder has a layer', () => {
    for (const file of files) expect(layerOf(file), relative(SRC, file)).toBeTypeOf('number');
  });

  it('no import runs back up the layers', () => {
    const upward: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const [, spec] of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
        if (!target.startsWith(SRC)) continue;
        const [from, to] = [layerOf(file), layerOf(target)];
        const sameFolder = dirname(file) === dirname(target);
        if (!sameFolder && to !== 0 && to >= from) upward.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('only settings.ts and the CLI read the environment; library code takes its settings as arguments', () => {
    const readers = files
      .filter((file) => /process\.env\b/.test(readFileSync(file, 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '')))
      .map((file) => relative(SRC, file))
      .filter((rel) => rel !== 'settings.ts' && !rel.startsWith('cli/'));
    expect(readers).toEqual([]);
  });
});
