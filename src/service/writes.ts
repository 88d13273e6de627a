import { z } from 'zod';
import { charCount } from '../chars.js';
import { InputError } from '../errors.js';
import { prefixesDialogues, type Manifest } from '../index/manifest.js';
import { WriteRefused, type WrittenDialogue } from '../index/written.js';
import { resolveLabels } from '../retrieve/select.js';
import { inIndexSpace, resolveCorpora } from './corpora.js';
import { MAX_UTTERANCE_CHARS } from './query.js';

/** Characters of a dialogue id a write may give (ids are path segments of the HTTP door). */
const MAX_DIALOGUE_ID_CHARS = 200;
/** Turns of one written dialogue (as a prompt request's dialogue). */
const MAX_DIALOGUE_TURNS = 500;

const LabelsSchema = z.array(z.string().trim().min(1, 'must not be empty'), { error: 'must be a list of labels' }).min(1, 'must hold at least one label');

const WriteTurnSchema = z.object({
  speaker: z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty'),
  text: z.string({ error: 'must be a string' }).refine((s) => s.trim().length > 0, 'must not be empty')
    .refine((s) => charCount(s) <= MAX_UTTERANCE_CHARS, `must be at most ${MAX_UTTERANCE_CHARS} characters`),
  label: z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').optional(),
  labels: LabelsSchema.optional(),
  scores: z.record(z.string(), z.number().nullable()).optional().meta({ description: 'numeric annotations (WASSA), kept with the row' }),
  source_id: z.string().optional().meta({ description: "the corpus' own id of this utterance" }),
}).strict();

export const WriteDialogueSchema = z.object({
  id: z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').max(MAX_DIALOGUE_ID_CHARS, `must be at most ${MAX_DIALOGUE_ID_CHARS} characters`)
    .meta({ description: 'the dialogue\'s id in its corpus; a pooled index names it `<corpus>/<id>`, as its build names dialogues (the answer says)' }),
  corpus: z.string().trim().min(1).optional().meta({ description: "the corpus it belongs to (default the index's; a pool: one of its sources); its labels may be given in that corpus' names" }),
  split: z.string().trim().min(1).optional().meta({ description: 'a split the index holds (default train, else its first)' }),
  turns: z.array(WriteTurnSchema, { error: 'must be a list of turns' }).min(1, 'must hold at least one turn').max(MAX_DIALOGUE_TURNS, `at most ${MAX_DIALOGUE_TURNS} turns`),
}).strict();
export type WriteDialogueInput = z.input<typeof WriteDialogueSchema>;

export const AddDialoguesSchema = z.object({
  dialogues: z.array(WriteDialogueSchema, { error: 'must be a list of dialogues' }).min(1, 'must hold at least one dialogue'),
}).strict();

export const RelabelSchema = z.object({
  label: z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').optional(),
  labels: LabelsSchema.optional(),
}).strict();

/** The gold labels a turn gives, from `label` or `labels` (exactly one of them), as given. */
export function givenLabels(turn: { label?: string; labels?: string[] }, param: string, multiLabel: boolean): string[] {
  const field = (name: string) => (param ? `${param}.${name}` : name);
  if (turn.label !== undefined && turn.labels !== undefined) throw new InputError(field('labels'), 'give label or labels, not both');
  const labels = turn.labels ?? (turn.label !== undefined ? [turn.label] : undefined);
  if (!labels) throw new InputError(field('label'), 'is required: every written turn has its gold label');
  if (!multiLabel && labels.length > 1) throw new InputError(field('labels'), `this index is single-label: give one label, not ${labels.length}`);
  return labels;
}

/** A turn's labels in the index's space (through the corpus' map in a unified pool), and as its corpus names them. */
export function labelsInIndex(manifest: Manifest, corpus: string, labels: readonly string[], param: string): { labels: string[]; sourceLabels: string[] } {
  try {
    const inSpace = resolveLabels(corpus, manifest.labels, labels.map((l) => inIndexSpace(manifest, corpus, l)));
    return { labels: inSpace, sourceLabels: manifest.label_space === 'unified' ? [...new Set(labels)] : inSpace };
  } catch (error) {
    throw error instanceof InputError ? new InputError(param, error.message.replace(/^labels: /, '')) : error;
  }
}

/** The split a written dialogue goes to: given (one the index holds), else train where it holds it, else its first. */
function splitOf(manifest: Manifest, given: string | undefined, param: string): string {
  if (given === undefined) return manifest.splits.includes('train') ? 'train' : manifest.splits[0];
  if (!manifest.splits.includes(given)) throw new InputError(param, `unknown split "${given}" (index holds: ${manifest.splits.join(', ')})`);
  return given;
}

/**
 * Dialogues of a write request as the index stores them: corpus and split checked against the index, ids named as its
 * build names them (`<corpus>/<id>` in a pool), labels in its space. `param` prefixes every field named in an error.
 */
export function toWrittenDialogues(manifest: Manifest, dialogues: readonly z.output<typeof WriteDialogueSchema>[], param = 'dialogues'): WrittenDialogue[] {
  return dialogues.map((d, i) => {
    const at = `${param}.${i}`;
    const corpus = d.corpus === undefined ? manifest.corpus : resolveCorpora(manifest, [d.corpus], `${at}.corpus`)[0];
    const prefix = prefixesDialogues(manifest) ? `${corpus}/` : '';
    return {
      id: d.id.startsWith(prefix) ? d.id : `${prefix}${d.id}`,
      corpus,
      split: splitOf(manifest, d.split, `${at}.split`),
      turns: d.turns.map((t, n) => ({
        speaker: t.speaker, text: t.text,
        ...labelsInIndex(manifest, corpus, givenLabels(t, `${at}.turns.${n}`, manifest.multi_label), `${at}.turns.${n}.label`),
        ...(t.scores ? { scores: t.scores } : {}),
        ...(t.source_id !== undefined ? { sourceId: t.source_id } : {}),
      })),
    };
  });
}

/** A write the index refused as the error a door answers (404, 409, 400), its field under `prefix`. */
export function writeError(error: unknown, prefix?: string): unknown {
  if (!(error instanceof WriteRefused)) return error;
  const code = error.kind === 'not-found' ? 'NOT_FOUND' : error.kind === 'exists' ? 'DIALOGUE_EXISTS' : 'INPUT_INVALID';
  return new InputError(prefix && !error.param.startsWith(prefix) ? `${prefix}.${error.param}` : error.param, error.message, code);
}

/** What the write routes answer (the OpenAPI document is generated from these). */
const WriteAckShape = {
  index: z.string(),
  seq: z.number().int().meta({ description: "the write's place in the index's write log: every replica applies writes in this order" }),
  took_ms: z.number(),
};

export const AddDialoguesResponseSchema = z.object({
  ...WriteAckShape,
  dialogues: z.array(z.object({
    id: z.string().meta({ description: 'the dialogue as the index names it (`dialogue` in demonstrations, the id to relabel or remove it by)' }),
    rows: z.array(z.number().int()).meta({ description: "its turns' row ids, in turn order (`id` in demonstrations)" }),
  }).strict()),
}).strict().meta({ id: 'AddDialoguesResponse' });

export const RelabelResponseSchema = z.object({
  ...WriteAckShape,
  dialogue: z.string(),
  turn: z.number().int(),
  id: z.number().int().meta({ description: "the turn's row id" }),
  labels: z.array(z.string()).meta({ description: "its labels now, in the index's space" }),
  source_labels: z.array(z.string()).meta({ description: "its labels now, in its corpus' own names" }),
}).strict().meta({ id: 'RelabelResponse' });

export const RemoveResponseSchema = z.object({
  ...WriteAckShape,
  dialogue: z.string(),
  removed: z.number().int().meta({ description: 'utterances removed' }),
}).strict().meta({ id: 'RemoveResponse' });

/** What was written to an index since its build (GET /indexes: `written`). */
export const WrittenSummarySchema = z.object({
  seq: z.number().int().meta({ description: 'the last write applied (0: none since the build)' }),
  added: z.number().int(),
  relabelled: z.number().int(),
  removed: z.number().int(),
  rows: z.number().int().meta({ description: 'utterances the index answers with now (built + added - removed)' }),
  share: z.number().meta({ description: "rows written (added, relabelled or removed) as a share of the built rows: the space was chosen without them; `erc-demos compact` chooses it again" }),
}).strict().meta({ id: 'WrittenSummary' });
export type WrittenSummary = z.infer<typeof WrittenSummarySchema>;
