import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_EMBEDDER } from '../embed/create.js';
import { IndexLoadError } from '../errors.js';
import { readManifest } from '../index/open.js';
import { DEFAULT_INDEX_DIR, meldDir, SAMPLE_CORPUS } from '../paths.js';
import type { Settings } from '../settings.js';
import { runBuild, type BuildCommandOptions } from './build-index.js';

/**
 * The built-in default of `serve` with no --index: MELD train when MELD is found ($ERC_DEMOS_MELD_DIR, or
 * ../shared/data/meld), else the project's own small sample corpus. `open` loads an index directory (the service);
 * an index from an earlier start is opened once and reused, and one is built (with a progress bar) when there is
 * none, or when opening the earlier one fails on the index itself (damaged, other embedder, older format, or built
 * before the space was chosen by cross-validation).
 */
export async function openDefaultIndex<T>(open: (dir: string) => Promise<T>, settings: Settings): Promise<T> {
  const meld = meldDir(settings);
  const build: BuildCommandOptions = meld
    ? { format: 'meld', data: meld, splits: ['train'], embedder: DEFAULT_EMBEDDER, out: join(DEFAULT_INDEX_DIR, 'meld-train'), name: 'meld', batchSize: 1024 }
    : { format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], embedder: DEFAULT_EMBEDDER, out: join(DEFAULT_INDEX_DIR, 'sample-use-lite'), name: 'sample', corpusName: 'sample', batchSize: 1024 };
  if (meld) {
    console.error(`default index: MELD train from ${meld}`);
  } else {
    console.error(
      'default index: the built-in sample corpus (100 invented utterances; MELD was not found).\n' +
        '  To serve MELD, set ERC_DEMOS_MELD_DIR=<dir with train_sent_emo.csv> or build one: ' +
        'erc-demos build --corpus meld --data <dir> --split train --out indexes/meld',
    );
  }
  if (existsSync(build.out)) {
    try {
      const manifest = readManifest(build.out);
      if (manifest.embedder.id !== DEFAULT_EMBEDDER) throw new IndexLoadError(build.out, `built with ${manifest.embedder.id}`);
      // Built before the space was chosen by cross-validation (and training utterances cross-fitted): rebuild.
      if (manifest.space_selection === null) throw new IndexLoadError(build.out, 'built by an older erc-demos, before its space was chosen by cross-validation');
      const opened = await open(build.out);
      console.error(`using the index built earlier at ${build.out} (${manifest.built_at})`);
      return opened;
    } catch (error) {
      if (!(error instanceof IndexLoadError)) throw error;
      console.error(`rebuilding: ${error.message}`);
    }
  }
  await runBuild({ ...build, settings });
  return open(build.out);
}
