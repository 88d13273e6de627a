import type { Embedder } from './types.js';
import { EmbedderError, InputError } from '../errors.js';
import { availableParallelism } from 'node:os';
import { DEFAULT_SETTINGS, type Settings } from '../settings.js';
import { startTransformersPool, startUseLitePool } from './pool.js';
import { inThread, ScheduledEmbedder, type ScheduleOptions } from './scheduler.js';
import { modelFolder, TransformersEmbedder } from './transformers.js';
import { capText } from './text-cap.js';
import { withQueryCache } from './query-cache.js';
import { UseLiteOnnxEmbedder } from './use-lite-onnx.js';

/**
 * What the embedder is for. `batch` (build, export, eval): every core embeds while the main thread files results.
 * `serve`: one core is left to the main thread's HTTP and graph search; on 2 cores that measured better at
 * concurrency 16 (p99 44 vs 66 ms, docs/PERFORMANCE.md), and worse for builds (723 vs 1099 utterances/s).
 */
export type EmbedRole = 'batch' | 'serve';

/** Worker threads that embed (either model): the setting, or `auto`: per role (at most 4); 0 embeds in-thread. */
export function embedThreads(role: EmbedRole = 'batch', setting: Settings['embedThreads'] = DEFAULT_SETTINGS.embedThreads): number {
  if (setting !== 'auto') return Number(setting);
  const cores = availableParallelism();
  return Math.min(4, role === 'serve' ? Math.max(1, cores - 1) : cores);
}

/**
 * How calls are cut and shared. Serving bounds a call's sentences and characters (how long a single query can wait
 * behind a batch, or behind the sentences of 32 connections arriving at once) and one request's share of the threads
 * (by default all but one, so a batch always leaves one to single queries). A build, export or eval is the only
 * request: it takes every thread in full calls (the character cap would cost it ~4%, docs/RELIABILITY.md).
 */
export function scheduleFor(role: EmbedRole, executors: number, settings: Settings = DEFAULT_SETTINGS): ScheduleOptions {
  if (role === 'batch') return { callItems: 32, callChars: Number.POSITIVE_INFINITY, maxExecutorsPerRequest: executors };
  const share = settings.maxWorkersPerRequest > 0 ? settings.maxWorkersPerRequest : Math.max(1, executors - 1);
  return { callItems: settings.embedCallItems, callChars: settings.embedCallChars, maxExecutorsPerRequest: share };
}

export const DEFAULT_EMBEDDER = 'use-lite';

/** A model that reads at most `maxChars` characters of each text (ERC_DEMOS_MAX_EMBED_CHARS), as a worker does. */
function capped(model: Embedder, maxChars: number): Embedder {
  return { id: model.id, dim: model.dim, embed: (texts, options) => model.embed(texts.map((t) => capText(t, maxChars)), options) };
}

/** Separates a transformers spec from its prompt override: `transformers:<model>|prompt=<name or text>`. */
const PROMPT_MARK = '|prompt=';
const DTYPE_MARK = '|dtype=';

/**
 * A transformers spec's model, graph dtype and prompt override (`transformers:<model>[|dtype=q8][|prompt=...]`, the
 * prompt last since its text may hold anything). Both are part of the spec, and so of the embedder id an index
 * stores: an index is only ever queried with the graph and prompt it was built with.
 */
export function parseTransformersSpec(spec: string): { model: string; dtype?: string; prompt?: string } {
  const body = spec.slice('transformers:'.length);
  const at = body.indexOf(PROMPT_MARK);
  const head = at < 0 ? body : body.slice(0, at);
  const prompt = at < 0 ? {} : { prompt: body.slice(at + PROMPT_MARK.length) };
  const d = head.indexOf(DTYPE_MARK);
  return d < 0 ? { model: head, ...prompt } : { model: head.slice(0, d), dtype: head.slice(d + DTYPE_MARK.length), ...prompt };
}

/** The spec with a graph dtype (`--dtype`), or unchanged without one (fp32 is the default graph: not written). */
export function withDtype(spec: string, dtype: string | undefined): string {
  if (dtype === undefined || dtype === 'fp32') return spec;
  if (!spec.startsWith('transformers:')) throw new InputError('dtype', `applies to transformers:<model> embedders, not ${spec}`);
  const { model, prompt } = parseTransformersSpec(spec);
  return `transformers:${model}${DTYPE_MARK}${dtype}${prompt !== undefined ? `${PROMPT_MARK}${prompt}` : ''}`;
}

/** The spec with a prompt override (`--query-prompt`), or unchanged without one. */
export function withPrompt(spec: string, prompt: string | undefined): string {
  if (prompt === undefined) return spec;
  if (!spec.startsWith('transformers:')) throw new EmbedderError('EMBEDDER_OPTION_INVALID', `--query-prompt applies to transformers:<model> embedders, not ${spec}`);
  const { model, dtype } = parseTransformersSpec(spec);
  return `transformers:${model}${dtype !== undefined ? `${DTYPE_MARK}${dtype}` : ''}${PROMPT_MARK}${prompt}`;
}

/**
 * Builds an embedder from its spec: `use-lite` or `transformers:<hub id or local folder>`. Every embedder is
 * scheduled (scheduler.ts): fair between concurrent requests, cancellable, in calls of bounded size.
 */
export async function createEmbedder(spec: string = DEFAULT_EMBEDDER, role: EmbedRole = 'batch', settings: Settings = DEFAULT_SETTINGS): Promise<Embedder> {
  if (spec === 'use-lite') {
    const threads = embedThreads(role, settings.embedThreads);
    if (threads > 0) return startUseLitePool(threads, scheduleFor(role, threads, settings), settings.maxEmbedChars);
    const model = await UseLiteOnnxEmbedder.load();
    return new ScheduledEmbedder(model.id, model.dim, [inThread(capped(model, settings.maxEmbedChars))], scheduleFor(role, 1, settings), undefined,
      { ...model, maxChars: settings.maxEmbedChars });
  }
  if (spec.startsWith('transformers:') && spec.length > 'transformers:'.length) {
    const { model: name, dtype, prompt } = parseTransformersSpec(spec);
    const folder = await modelFolder(name, { allowRemote: settings.allowRemoteModels === '1', cacheDir: settings.modelCache || undefined, host: settings.modelHost || undefined, dtype });
    const threads = embedThreads(role, settings.embedThreads);
    if (threads > 0) return startTransformersPool(spec, name, folder, threads, scheduleFor(role, threads, settings), prompt, settings.maxEmbedChars, dtype);
    const model = await TransformersEmbedder.load({ model: name, folder, prompt, dtype, id: spec });
    return new ScheduledEmbedder(model.id, model.dim, [inThread(capped(model, settings.maxEmbedChars))], scheduleFor(role, 1, settings), model.describe(),
      { fingerprint: model.fingerprint, loaded: model.loaded, maxChars: settings.maxEmbedChars });
  }
  throw new EmbedderError('EMBEDDER_UNKNOWN', `unknown embedder "${spec}" (expected use-lite or transformers:<model id or folder>)`);
}

/**
 * An embedder for queries (a service's: serve, the CLI's queries, the library): createEmbedder's, behind a cache of
 * query vectors (ERC_DEMOS_EMBED_CACHE_MB; 0: none). Builds use createEmbedder: they embed each text once.
 */
export async function createQueryEmbedder(spec: string = DEFAULT_EMBEDDER, role: EmbedRole = 'batch', settings: Settings = DEFAULT_SETTINGS): Promise<Embedder> {
  return withQueryCache(await createEmbedder(spec, role, settings), settings.embedCacheMb);
}
