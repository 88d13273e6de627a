import type { Dialogue } from '../corpus/types.js';
import type { Embedder } from '../embed/types.js';
import { holdsCorpus } from '../index/manifest.js';
import type { DemoIndex } from '../index/open.js';
import type { SearchSpace } from '../index/search-space.js';
import type { PromptFormat } from '../prompt/formats.js';
import { renderPrompt, type PromptTurn } from '../prompt/render.js';
import { indexedCopies, leakageSafeSelection } from '../retrieve/leakage.js';
import { retrieve } from '../retrieve/retrieve.js';
import type { Demonstration, Strategy } from '../retrieve/select.js';

export interface PromptOptions {
  k: number;
  strategy: Strategy;
  window?: number;
  unified?: boolean;
  labels?: readonly string[];
  /** Only demonstrations from these corpora (a pooled index). */
  corpora?: readonly string[];
  allowEvalSplits?: boolean;
  excludeDialogues?: readonly string[];
  dedup?: boolean;
  /** mmr only: relevance against diversity. */
  lambda?: number;
  /**
   * Search a training utterance (its dialogue indexed) in the space fitted without its fold (default true), so the
   * demonstrations of exported training prompts are as good as a test prompt's, not better.
   */
  crossFit?: boolean;
  /** Refuse a prompt longer than this many characters (a request's limit; exports have none). */
  maxPromptChars?: number;
  /** Stops the work when aborted (the request's client went away). */
  signal?: AbortSignal;
}

/** One prompt to build: a dialogue (from a corpus file or a request) and a target turn. */
export interface PromptJob {
  corpus: string;
  /** The dialogue's id as the index would name it, when it comes from a corpus (enables leakage rules). */
  dialogueId?: string;
  turns: readonly PromptTurn[];
  target: number;
}

export interface BuiltPrompt {
  prompt: string;
  target: string | null;
  demonstrations: Demonstration[];
}

/** Where a job's demonstrations are searched: its fold's space when the index holds its dialogue (index.space). */
function spaceOf(index: DemoIndex, job: PromptJob, options: PromptOptions): SearchSpace {
  return index.space(holdsCorpus(index.manifest, job.corpus) ? job.dialogueId : undefined, options.crossFit !== false);
}

/** The index row holding this very utterance (same dialogue, turn and text), if the index has it. */
function ownRow(index: DemoIndex, job: PromptJob, turn: number): number | undefined {
  if (!job.dialogueId || !holdsCorpus(index.manifest, job.corpus)) return undefined;
  const id = index.dialogueRows(job.dialogueId).find((r) => index.rows[r].turn === turn);
  return id !== undefined && index.rows[id].text === job.turns[turn].text ? id : undefined;
}

/**
 * The jobs as the index knows their dialogues: a dialogue it does not hold under the job's id but holds a copy of
 * (the same turns under another id: a dev file indexed as train) is named by the copy's id, so the copy is left out
 * of its demonstrations and its own row's vector and fold space are used, as for the dialogue itself.
 */
function asIndexed(index: DemoIndex, jobs: readonly PromptJob[]): PromptJob[] {
  const copyOf = new Map<readonly PromptTurn[], string | undefined>();
  return jobs.map((job) => {
    if (!job.dialogueId || !holdsCorpus(index.manifest, job.corpus) || index.dialogueRows(job.dialogueId).length > 0) return job;
    if (!copyOf.has(job.turns)) copyOf.set(job.turns, indexedCopies(index, job.turns)[0]);
    const copy = copyOf.get(job.turns);
    return copy === undefined ? job : { ...job, dialogueId: copy };
  });
}

/**
 * Builds prompts for a batch of jobs: one embedder call for every query text the index does not already hold
 * (a training utterance's vector is reused from the index), then leakage-safe retrieval and rendering, each in
 * the job's space (spaceOf).
 */
export async function buildPrompts(index: DemoIndex, embedder: Embedder, format: PromptFormat, given: readonly PromptJob[], options: PromptOptions): Promise<BuiltPrompt[]> {
  const jobs = asIndexed(index, given);
  const queryTurn = (job: PromptJob) => (format.query === 'previous' ? job.target - 1 : job.target);
  const wantsDemos = format.query !== 'none' && format.template.includes('{demonstrations}') && options.k > 0;
  const vectors: (Float32Array | undefined)[] = new Array(jobs.length);
  if (wantsDemos) {
    const toEmbed: number[] = [];
    jobs.forEach((job, i) => {
      const turn = queryTurn(job);
      if (turn < 0) return;
      const row = ownRow(index, job, turn);
      if (row !== undefined) vectors[i] = spaceOf(index, job, options).vector(row);
      else toEmbed.push(i);
    });
    const embedded = await embedder.embed(toEmbed.map((i) => jobs[i].turns[queryTurn(jobs[i])].text), { signal: options.signal });
    toEmbed.forEach((jobIndex, n) => (vectors[jobIndex] = spaceOf(index, jobs[jobIndex], options).queryVector(embedded[n])));
  }
  return jobs.map((job, i) => {
    let demonstrations: Demonstration[] = [];
    const vector = vectors[i];
    if (vector) {
      const selection = leakageSafeSelection(index.manifest, {
        corpus: job.corpus, dialogue: job.dialogueId, rowId: ownRow(index, job, job.target),
      }, { k: options.k, strategy: options.strategy, labels: options.labels, corpora: options.corpora, allowEvalSplits: options.allowEvalSplits, extraExcludedDialogues: options.excludeDialogues, dedup: options.dedup, lambda: options.lambda });
      demonstrations = retrieve(spaceOf(index, job, options), vector, selection);
    }
    const rendered = renderPrompt(format, {
      corpus: job.corpus, turns: job.turns, target: job.target, demonstrations, window: options.window,
      unified: rendersUnified(index, options), labelSet: index.manifest.labels, maxChars: options.maxPromptChars,
    });
    return { ...rendered, demonstrations };
  });
}

/**
 * Renders a job once without demonstrations, to refuse (InputError) a prompt over `maxPromptChars` before anything
 * is embedded: the size is computed before any string is built (fill.ts), so a template repeating a long history
 * costs nothing.
 */
export function checkPromptSize(index: DemoIndex, format: PromptFormat, job: PromptJob, options: PromptOptions): void {
  renderPrompt(format, {
    corpus: job.corpus, turns: job.turns, target: job.target, demonstrations: [], window: options.window,
    unified: rendersUnified(index, options), labelSet: index.manifest.labels, maxChars: options.maxPromptChars,
  });
}

/** An index in the unified space speaks only unified labels: its prompts state them whatever `unified` says. */
function rendersUnified(index: DemoIndex, options: PromptOptions): boolean {
  return index.manifest.label_space === 'unified' || options.unified === true;
}

/** Every (dialogue, target) a format makes prompts for: all turns, or the dialogue's own targets, from min_target on. */
export function jobsOf(dialogues: readonly Dialogue[], format: PromptFormat): PromptJob[] {
  const jobs: PromptJob[] = [];
  for (const d of dialogues) {
    const targets = d.targets ?? d.turns.map((t) => t.index);
    for (const target of targets) {
      if (target >= format.min_target) jobs.push({ corpus: d.corpus, dialogueId: d.id, turns: d.turns, target });
    }
  }
  return jobs;
}
