import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository / package root (where package.json is), whatever the working directory. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** This package's version (package.json). */
export const PACKAGE_VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export const SAMPLE_CORPUS = join(PACKAGE_ROOT, 'data', 'sample', 'sample.jsonl');
export const DEFAULT_INDEX_DIR = join(PACKAGE_ROOT, 'indexes');

/**
 * Where the shared corpora live: $ERC_DEMOS_DATA_DIR, else ../shared/data beside the checkout. Returns the
 * corpus directory only if it exists.
 */
export function sharedCorpusDir(corpus: string): string | undefined {
  const base = process.env.ERC_DEMOS_DATA_DIR ?? join(PACKAGE_ROOT, '..', 'shared', 'data');
  const dir = join(base, corpus);
  return existsSync(dir) ? dir : undefined;
}

/** MELD for the default service: $ERC_DEMOS_MELD_DIR, else the shared data directory's meld/. */
export function meldDir(): string | undefined {
  const fromEnv = process.env.ERC_DEMOS_MELD_DIR;
  if (fromEnv) {
    if (existsSync(fromEnv)) return fromEnv;
    console.error(`warning: ERC_DEMOS_MELD_DIR=${fromEnv} does not exist; ignoring it`);
    return undefined;
  }
  return sharedCorpusDir('meld');
}
