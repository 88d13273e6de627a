import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import type { Dialogue } from '../corpus/types.js';
import type { Embedder } from '../embed/types.js';
import type { DemoIndex } from '../index/open.js';
import { removeDeadTemporaries } from '../index/recover.js';
import type { PromptFormat } from '../prompt/formats.js';
import { checkShapeOptions, shapeRecord, type JsonlShape, type ShapeOptions } from './jsonl-shapes.js';
import { buildPrompts, jobsOf, type PromptOptions } from './prompts.js';

export interface ExportOptions {
  index: DemoIndex;
  embedder: Embedder;
  format: PromptFormat;
  dialogues: readonly Dialogue[];
  options: PromptOptions;
  out: string;
  /** The shape of each line (jsonl-shapes.ts); default instructerc. */
  shape?: JsonlShape;
  shapeOptions?: ShapeOptions;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface ExportSummary {
  prompts: number;
  withTarget: number;
  seconds: number;
}

/** `<corpus>/<dialogue>/<turn>`; a pool's dialogue ids already start with their corpus, which is not said twice. */
function exportId(corpus: string, dialogue: string | undefined, target: number): string {
  return dialogue?.startsWith(`${corpus}/`) ? `${dialogue}/${target}` : `${corpus}/${dialogue}/${target}`;
}

/**
 * Writes one JSON line per target turn, in the requested shape (default {id, input, target, demonstrations: [row
 * ids]}: the keys InstructERC's trainer reads; or alpaca, sharegpt). Lines stream to a temporary file renamed into place at the end, so a failed or interrupted
 * export never leaves a truncated file under the requested name; the temporary files of killed exports to the same path
 * are removed first.
 */
export async function exportPrompts(o: ExportOptions): Promise<ExportSummary> {
  const started = performance.now();
  checkShapeOptions(o.shape ?? 'instructerc', o.shapeOptions ?? {});
  const jobs = jobsOf(o.dialogues, o.format);
  const batchSize = o.batchSize ?? 256;
  const tmp = `${o.out}.tmp-${process.pid}`;
  removeDeadTemporaries(o.out);
  const stream = createWriteStream(tmp, { encoding: 'utf8' });
  let streamError: Error | undefined;
  stream.on('error', (error) => (streamError = error));
  await once(stream, 'open');
  let withTarget = 0;
  try {
    for (let start = 0; start < jobs.length; start += batchSize) {
      const batch = jobs.slice(start, start + batchSize);
      const built = await buildPrompts(o.index, o.embedder, o.format, batch, o.options);
      const lines = built.map((p, i) => {
        if (p.target !== null) withTarget += 1;
        const job = batch[i];
        return JSON.stringify(shapeRecord(o.shape ?? 'instructerc', {
          id: exportId(job.corpus, job.dialogueId, job.target), input: p.prompt, target: p.target, demonstrations: p.demonstrations.map((d) => d.id),
        }, o.shapeOptions));
      });
      if (streamError) throw streamError;
      if (!stream.write(`${lines.join('\n')}\n`)) await once(stream, 'drain');
      o.onProgress?.(Math.min(start + batchSize, jobs.length), jobs.length);
    }
    stream.end();
    await once(stream, 'finish');
    renameSync(tmp, o.out);
  } catch (error) {
    if (!stream.destroyed) {
      // Not events.once: it rejects on the 'error' a destroyed stream may still emit, hiding the real failure.
      const closed = new Promise<void>((resolveClose) => stream.once('close', () => resolveClose()));
      stream.destroy();
      await closed;
    }
    rmSync(tmp, { force: true });
    throw error;
  }
  return { prompts: jobs.length, withTarget, seconds: (performance.now() - started) / 1000 };
}
