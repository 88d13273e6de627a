import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { charCount } from '../chars.js';
import { InputError } from '../errors.js';
import { numberSchema } from '../numbers.js';
import { FORMATS, PromptFormatSchema, type PromptFormat } from '../prompt/formats.js';
import { STRATEGIES } from '../retrieve/select.js';
import { DemoQueryValuesSchema, LambdaSchema, MAX_K, MAX_UTTERANCE_CHARS } from './query.js';
import { parseInput } from './validate.js';

/** A built-in format by name, or a user's format object (validated field by field). */
export function resolveFormat(format: unknown, param = 'format'): PromptFormat {
  if (typeof format === 'string') {
    const found = FORMATS.get(format);
    if (!found) throw new InputError(param, `unknown format "${format}" (built in: ${[...FORMATS.keys()].join(', ')}; or give a format object)`);
    return found;
  }
  const parsed = PromptFormatSchema.safeParse(format);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`${param}${issue.path.length ? `.${issue.path.join('.')}` : ''}`, issue.message);
  }
  return parsed.data;
}

/** A format from a JSON file (erc-demos prompts --format-file). */
export function formatFromFile(file: string): PromptFormat {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InputError('format-file', `${file}: ${(error as Error).message}`);
  }
  return resolveFormat(json, 'format-file');
}

const TurnSchema = z.object({
  speaker: z.string().trim().min(1, 'must not be empty'),
  text: z.string().refine((s) => s.trim().length > 0, 'must not be empty').refine((s) => charCount(s) <= MAX_UTTERANCE_CHARS, `must be at most ${MAX_UTTERANCE_CHARS} characters`),
  label: z.string().trim().min(1).optional(),
  labels: z.array(z.string()).optional(),
  scores: z.record(z.string(), z.number().nullable()).optional(),
}).strict();

export const PromptRequestSchema = z.object({
  format: z.union([z.string(), z.record(z.string(), z.unknown())], { error: 'must be a format name or a format object' }),
  index: z.string().trim().min(1).optional(),
  dialogue: z.object({
    id: z.string().trim().min(1).optional(),
    corpus: z.string().trim().min(1).optional().meta({ description: "the dialogue's corpus (default the index's): its labels may be given in that corpus' names, and with its id it is kept out of its own demonstrations" }),
    turns: z.array(TurnSchema, { error: 'must be a list of turns' }).min(1, 'must hold at least one turn').max(500, 'at most 500 turns'),
  }, { error: 'is required: {turns: [{speaker, text}]}' }).strict(),
  target: z.number({ error: 'must be a turn index' }).int('must be an integer'),
  options: z.object({
    k: numberSchema('integer', { min: 0, max: MAX_K }).default(4),
    strategy: z.enum(STRATEGIES, { error: `must be one of ${STRATEGIES.join(', ')}` }).default('topk'),
    window: numberSchema('integer', { min: 0, max: 1000 }).optional(),
    unified: z.boolean().default(false),
    labels: z.array(z.string()).optional(),
    exclude_dialogue: z.array(z.string()).optional(),
    corpus: z.array(z.string()).optional().meta({ description: "only demonstrations from these corpora (a pooled index's sources)" }),
    allow_eval_demos: z.boolean().default(false),
    dedup: z.boolean().default(false),
    lambda: LambdaSchema.optional(),
    cross_fit: z.boolean().default(true),
  }).strict().prefault({}),
}).strict();
export type PromptRequest = z.output<typeof PromptRequestSchema>;
/** A prompt request as a program may give it (DemoService.prompt): the options' defaults may be left out. */
export type PromptRequestInput = z.input<typeof PromptRequestSchema>;

export const DemoBatchSchema = z.object({
  queries: z.array(DemoQueryValuesSchema, { error: 'must be a list of queries' })
    // At most ERC_DEMOS_MAX_BATCH_QUERIES, checked before this schema runs (limits.ts: checkBatchLength).
    .min(1, 'must hold at least one query'),
}).strict();

export function parsePromptRequest(body: unknown): PromptRequest {
  return parseInput(PromptRequestSchema, body, 'body');
}
