import { z } from 'zod';
import { charCount } from '../chars.js';
import { numberFromText, numberSchema } from '../numbers.js';
import { STRATEGIES } from '../retrieve/select.js';

/** Characters (code points, src/chars.ts) of one utterance, at most. */
export const MAX_UTTERANCE_CHARS = 2000;
export const MAX_K = 100;

/** MMR's relevance-against-diversity weight, as a JSON or program number (a GET's text: LambdaTextSchema). */
export const LambdaSchema = numberSchema('decimal', { min: 0, max: 1 });
/** A GET's lambda, read by the strict rule of src/numbers.ts (`lambda=` or `lambda=1e-1` is refused, not 0). */
const LambdaTextSchema = numberFromText('decimal', { min: 0, max: 1 });
/** k of a demonstrations query: a JSON or program number; a GET's text read by the strict rule. */
const K_RANGE = { min: 1, max: MAX_K };

/** Splits "a,b, c" into trimmed non-empty items. */
const commaList = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0));

/**
 * One demonstrations query, as both doors receive it (HTTP query string, CLI flags): strings in, typed values out,
 * every rule naming its parameter.
 */
export const DemoQuerySchema = z.object({
  utterance: z
    .string({ error: 'must be a string' }) // 'is required' when absent (validate.ts)
    .refine((s) => s.trim().length > 0, 'must not be empty')
    .refine((s) => charCount(s) <= MAX_UTTERANCE_CHARS, `must be at most ${MAX_UTTERANCE_CHARS} characters`)
    .meta({ description: `the utterance to find demonstrations for: 1..${MAX_UTTERANCE_CHARS} characters, not blank` }),
  k: numberFromText('integer', K_RANGE)
    .optional()
    .meta({ description: 'demonstrations to return; default 5 (topk) or 1 per label (per-label)' }),
  index: z.string().trim().min(1, 'must not be empty').optional().meta({ description: 'index name; required when several are served' }),
  labels: commaList.optional().meta({ description: 'comma-separated labels (corpus or InstructERC names); each searched once' }),
  strategy: z.enum(STRATEGIES, { error: `must be one of ${STRATEGIES.join(', ')}` }).default('topk')
    .meta({ description: 'topk: the k most similar; per-label: the k most similar of each label; mmr: k relevant yet unlike each other (maximal marginal relevance)' }),
  lambda: LambdaTextSchema.optional()
    .meta({ description: 'strategy=mmr: weight of relevance against diversity, 0..1 (default 0.5; 1 is plain top-k)' }),
  exclude_dialogue: commaList.optional().meta({ description: 'comma-separated dialogue ids never to return' }),
  split: commaList.optional().meta({ description: 'comma-separated splits to draw from' }),
  corpus: commaList.optional().meta({ description: "comma-separated corpora to draw from (a pooled index's sources, e.g. meld,emorynlp)" }),
  dialogue: z.string().trim().min(1, 'must not be empty').optional()
    .meta({ description: "the utterance's own dialogue id: never returned, and where the index holds it, searched in the space fitted without its fold (cross-fitting)" }),
  cross_fit: z.enum(['true', 'false'], { error: 'must be true or false' }).transform((v) => v === 'true').optional()
    .meta({ description: "false: search an indexed dialogue's utterance in the index's full space, not its fold's (default true)" }),
  dedup: z.enum(['true', 'false'], { error: 'must be true or false' }).transform((v) => v === 'true').optional()
    .meta({ description: 'true: drop demonstrations whose text repeats a better one' }),
}).strict();

export type DemoQuery = z.output<typeof DemoQuerySchema>;

const stringList = z.array(z.string({ error: 'must be a list of strings' }), { error: 'must be a list of strings' });
const flag = z.boolean({ error: 'must be true or false' });

/**
 * The same query with typed values, as a POST body's JSON or a program (DemoService) gives it: numbers, lists and
 * booleans instead of their text; every other rule as in DemoQuerySchema.
 */
export const DemoQueryValuesSchema = DemoQuerySchema.extend({
  k: numberSchema('integer', K_RANGE).optional(),
  labels: stringList.optional(),
  exclude_dialogue: stringList.optional(),
  split: stringList.optional(),
  corpus: stringList.optional(),
  dedup: flag.optional(),
  lambda: LambdaSchema.optional(),
  cross_fit: flag.optional(),
});

/** Default k: 5 for top-k, 1 per label for per-label. */
export function effectiveK(query: Pick<DemoQuery, 'k'> & { strategy?: DemoQuery['strategy'] }): number {
  return query.k ?? (query.strategy === 'per-label' ? 1 : 5);
}
