import { z } from 'zod';
import type { ZodOpenApiPathsObject, ZodOpenApiResponsesObject } from 'zod-openapi';
import { AddDialoguesResponseSchema, AddDialoguesSchema, RelabelResponseSchema, RelabelSchema, RemoveResponseSchema } from '../service/writes.js';
import { ErrorSchema } from '../service/responses.js';

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });

const NAME = z.string().meta({ description: 'the index, as it is served (GET /indexes)' });
const DIALOGUE = z.string().meta({ description: 'the dialogue as the index names it (`dialogue` in demonstrations), URL-encoded (`train/s01` is `train%2Fs01`)' });

/** The answers every write may give beside its own. */
const WRITE_ERRORS: ZodOpenApiResponsesObject = {
  400: json(ErrorSchema, 'a bad field (an unknown label or split, text over its limit, too many utterances in one write): `param` names it; nothing was written'),
  401: json(ErrorSchema, 'no key, or a wrong one: writes are never anonymous'),
  403: json(ErrorSchema, 'the key has scope read, or may not use this index'),
  404: json(ErrorSchema, 'no such index, dialogue or turn: `param` names it'),
  503: {
    ...json(ErrorSchema, "another process held the index's write lock past ERC_DEMOS_WRITE_LOCK_TIMEOUT_MS: nothing was written; retry"),
    headers: { 'Retry-After': { description: 'seconds', schema: { type: 'integer' as const, minimum: 1 } } },
  },
};

const DURABLE = 'Durable when answered: the write is synced to the index folder\'s write log (a `kill -9` or power cut after the answer cannot lose it; one before leaves no trace). ' +
  'This server answers with it at once; every other `serve` on the folder within ERC_DEMOS_WRITES_POLL_MS. Needs a key with scope write that may use the index.';

/** The write routes' part of the OpenAPI document (write-routes.ts). */
export function writePaths(maxWriteUtterances: number): ZodOpenApiPathsObject {
  return {
    '/indexes/{name}/dialogues': {
      post: {
        summary: 'Add dialogues to an index (live writes)',
        description: `At most ${maxWriteUtterances} utterances in one write (ERC_DEMOS_MAX_WRITE_UTTERANCES), all or none: embedded with the index's embedder (scheduled beside queries) and projected into its space. ${DURABLE}`,
        requestParams: { path: z.object({ name: NAME }) },
        requestBody: { content: { 'application/json': { schema: AddDialoguesSchema } } },
        responses: { 201: json(AddDialoguesResponseSchema, 'added: each dialogue as the index names it, with its row ids'), 409: json(ErrorSchema, 'a dialogue id the index already holds, or given twice'), ...WRITE_ERRORS },
      },
    },
    '/indexes/{name}/dialogues/{dialogue}': {
      delete: {
        summary: 'Remove a dialogue from an index: its utterances are never returned again, by any route or strategy',
        description: DURABLE,
        requestParams: { path: z.object({ name: NAME, dialogue: DIALOGUE }) },
        responses: { 200: json(RemoveResponseSchema, 'removed'), ...WRITE_ERRORS },
      },
    },
    '/indexes/{name}/dialogues/{dialogue}/turns/{turn}': {
      patch: {
        summary: "Give one turn new gold labels (in its corpus' names or the index's); per-label selection sees them at once",
        description: DURABLE,
        requestParams: { path: z.object({ name: NAME, dialogue: DIALOGUE, turn: z.string().regex(/^\d+$/).meta({ description: 'the turn number (0-based)' }) }) },
        requestBody: { content: { 'application/json': { schema: RelabelSchema } } },
        responses: { 200: json(RelabelResponseSchema, 'relabelled'), ...WRITE_ERRORS },
      },
    },
  };
}
