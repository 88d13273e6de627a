import { z } from 'zod';
import { ManifestSchema } from '../index/manifest.js';
import { PromptFormatSchema } from '../prompt/formats.js';
import { WrittenSummarySchema } from './writes.js';

/**
 * What the HTTP door answers, as zod schemas: the API description (server/openapi.ts) is generated from these and
 * from the request schemas that validate input, so it is never written twice; the tests validate real answers
 * against the generated document.
 */
export const DemonstrationSchema = z.object({
  id: z.number().int().meta({ description: 'row id in the index' }),
  text: z.string(),
  label: z.string().nullable().meta({ description: 'the gold label (the first of a multi-label row; null where the row has none)' }),
  labels: z.array(z.string()),
  source_label: z.string().nullable().meta({ description: "the row's own label in its corpus' names: what `label` is mapped from in a unified pool, else the same" }),
  source_labels: z.array(z.string()),
  scores: z.record(z.string(), z.number().nullable()).optional().meta({ description: 'numeric annotations, only where the corpus has them (WASSA)' }),
  speaker: z.string(),
  corpus: z.string().meta({ description: 'the corpus the row comes from (one of a pooled index\'s sources)' }),
  split: z.string(),
  dialogue: z.string(),
  turn: z.number().int(),
  score: z.number().meta({ description: 'cosine similarity to the query, in the index\'s search space' }),
}).strict().meta({ id: 'Demonstration' });

export const DemoResponseSchema = z.object({
  index: z.string(),
  embedder: z.string(),
  took_ms: z.number(),
  demonstrations: z.array(DemonstrationSchema).meta({ description: 'best first' }),
}).strict().meta({ id: 'DemoResponse' });

export const DemoBatchResponseSchema = z.object({
  results: z.array(DemoResponseSchema).meta({ description: 'one per query, in order' }),
  took_ms: z.number(),
}).strict().meta({ id: 'DemoBatchResponse' });

export const PromptResponseSchema = z.object({
  prompt: z.string(),
  target: z.string().nullable().meta({ description: 'the expected answer, or null where the dialogue lacks what it needs' }),
  demonstrations: z.array(DemonstrationSchema),
  took_ms: z.number(),
}).strict().meta({ id: 'PromptResponse' });

export const ErrorSchema = z.object({
  error: z.object({
    param: z.string().nullable().meta({ description: 'the parameter or body field at fault (e.g. queries.3.k), or null' }),
    message: z.string(),
  }).strict(),
}).strict().meta({ id: 'Error' });

export const HealthSchema = z.union([
  z.object({ status: z.literal('ok'), indexes: z.array(z.string()).optional().meta({ description: 'the served indexes; left out when the service has API keys (this route answers without one)' }) }).strict(),
  z.object({ status: z.literal('draining') }).strict(),
]).meta({ id: 'Health' });

export const IndexesSchema = z.object({
  indexes: z.array(z.object({ name: z.string(), manifest: ManifestSchema, written: WrittenSummarySchema.meta({ description: 'what was written to the index since its build (live writes)' }) }).strict()),
}).strict().meta({ id: 'Indexes' });

export const FormatsSchema = z.object({
  formats: z.array(PromptFormatSchema).meta({ description: 'the built-in prompt formats, as the objects a format of your own copies' }),
}).strict().meta({ id: 'Formats' });
