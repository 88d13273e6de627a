import type { Writable } from 'node:stream';
import type { Dialogue } from '../corpus/types.js';
import type { Embedder } from '../embed/types.js';
import type { DemoIndex } from '../index/open.js';
import type { PromptFormat } from '../prompt/formats.js';
import { atomicFileSink, streamSink } from './export-sink.js';
import { exportTarget } from './export-target.js';
import { checkShapeOptions, shapeRecord, type JsonlShape, type ShapeOptions } from './jsonl-shapes.js';
import { buildPrompts, jobsOf, type PromptOptions } from './prompts.js';

export interface ExportOptions {
  index: DemoIndex;
  embedder: Embedder;
  format: PromptFormat;
  dialogues: readonly Dialogue[];
  options: PromptOptions;
  /** A file path (replaced atomically, checked first) or a stream the caller owns (e.g. standard output). */
  out: string | Writable;
  /** What the export reads (corpus files or folders, the index, a format file): `out` must be none of them. */
  inputs?: readonly string[];
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
 * ids]}: the keys InstructERC's trainer reads; or alpaca, sharegpt). `out` is a file path, replaced atomically once
 * every line is written (export-sink.ts), and checked before any work (export-target.ts: a regular file or nothing,
 * never one of `inputs`); or a stream the caller owns (standard output), written as lines are ready.
 */
export async function exportPrompts(o: ExportOptions): Promise<ExportSummary> {
  const started = performance.now();
  checkShapeOptions(o.shape ?? 'instructerc', o.shapeOptions ?? {});
  const sink = typeof o.out === 'string' ? await atomicFileSink(exportTarget(o.out, o.inputs)) : streamSink(o.out, o.out === process.stdout ? 'standard output' : undefined);
  const jobs = jobsOf(o.dialogues, o.format);
  const batchSize = o.batchSize ?? 256;
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
      await sink.write(`${lines.join('\n')}\n`);
      o.onProgress?.(Math.min(start + batchSize, jobs.length), jobs.length);
    }
    await sink.commit();
  } catch (error) {
    await sink.abort();
    throw error;
  }
  return { prompts: jobs.length, withTarget, seconds: (performance.now() - started) / 1000 };
}
