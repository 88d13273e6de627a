import { z } from 'zod';
import { charCount } from '../chars.js';
import { STRATEGIES } from '../retrieve/select.js';

/** Characters (code points, src/chars.ts) of one utterance, at most. */
export const MAX_UTTERANCE_CHARS = 2000;
export const MAX_K = 100;

/** MMR's relevance-against-diversity weight, wherever a request gives it (JSON number; GET coerces its string). */
export const LambdaSchema = z.number({ error: 'must be a number between 0 and 1' }).min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');

/** Splits "a,b, c" into trimmed non-empty items. */
const commaList = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0));

/**
 * One demonstrations query, as both doors receive it (HTTP query string, CLI flags): strings in, typed values out,
 * every rule naming its parameter.
 */
export const DemoQuerySchema = z.object({
  utterance: z
    .string({ error: 'is required' })
    .refine((s) => s.trim().length > 0, 'must not be empty')
    .refine((s) => charCount(s) <= MAX_UTTERANCE_CHARS, `must be at most ${MAX_UTTERANCE_CHARS} characters`)
    .meta({ description: `the utterance to find demonstrations for: 1..${MAX_UTTERANCE_CHARS} characters, not blank` }),
  k: z.coerce
    .number({ error: 'must be an integer' })
    .int('must be an integer')
    .min(1, `must be between 1 and ${MAX_K}`)
    .max(MAX_K, `must be between 1 and ${MAX_K}`)
    .optional()
    .meta({ description: 'demonstrations to return; default 5 (topk) or 1 per label (per-label)' }),
  index: z.string().trim().min(1, 'must not be empty').optional().meta({ description: 'index name; required when several are served' }),
  labels: commaList.optional().meta({ description: 'comma-separated labels (corpus or InstructERC names); each searched once' }),
  strategy: z.enum(STRATEGIES, { error: `must be one of ${STRATEGIES.join(', ')}` }).default('topk')
    .meta({ description: 'topk: the k most similar; per-label: the k most similar of each label; mmr: k relevant yet unlike each other (maximal marginal relevance)' }),
  lambda: z.coerce.number({ error: 'must be a number between 0 and 1' }).pipe(LambdaSchema).optional()
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

/** Default k: 5 for top-k, 1 per label for per-label. */
export function effectiveK(query: Pick<DemoQuery, 'k'> & { strategy?: DemoQuery['strategy'] }): number {
  return query.k ?? (query.strategy === 'per-label' ? 1 : 5);
}
