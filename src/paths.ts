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
 * Where the shared corpora live: `dataDir` (the setting ERC_DEMOS_DATA_DIR), else ../shared/data beside the checkout.
 * Returns the corpus directory only if it exists.
 */
export function sharedCorpusDir(corpus: string, dataDir = ''): string | undefined {
  const dir = join(dataDir || join(PACKAGE_ROOT, '..', 'shared', 'data'), corpus);
  return existsSync(dir) ? dir : undefined;
}

/** MELD for the default service: the settings' meldDir (ERC_DEMOS_MELD_DIR), else the data directory's meld/. */
export function meldDir(settings: { meldDir: string; dataDir: string }): string | undefined {
  if (settings.meldDir) {
    if (existsSync(settings.meldDir)) return settings.meldDir;
    console.error(`warning: ERC_DEMOS_MELD_DIR=${settings.meldDir} does not exist; ignoring it`);
    return undefined;
  }
  return sharedCorpusDir('meld', settings.dataDir);
}
