import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_EMBEDDER } from '../embed/create.js';
import { DemoIndex, readManifest } from '../index/open.js';
import { DEFAULT_INDEX_DIR, meldDir, SAMPLE_CORPUS } from '../paths.js';
import { runBuild, type BuildCommandOptions } from './build-index.js';

/**
 * The built-in default of `serve` with no --index: MELD train when MELD is found ($ERC_DEMOS_MELD_DIR, or
 * ../shared/data/meld), else the project's own small sample corpus. Reuses a valid index from an earlier start and
 * builds one (with a progress bar) otherwise, or when the earlier one is damaged.
 */
export async function ensureDefaultIndex(): Promise<string> {
  const meld = meldDir();
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
      if (manifest.embedder.id !== DEFAULT_EMBEDDER) throw new Error(`it was built with ${manifest.embedder.id}`);
      await DemoIndex.open(build.out); // verifies the files: a damaged default index is rebuilt, not served
      console.error(`using the index built earlier at ${build.out} (${manifest.built_at})`);
      return build.out;
    } catch (error) {
      console.error(`rebuilding ${build.out}: ${(error as Error).message}`);
    }
  }
  await runBuild(build);
  return build.out;
}
