import type { z } from 'zod';
import { createDocument, type ZodOpenApiResponsesObject } from 'zod-openapi';
import type { RequestLimits } from '../service/limits.js';
import { DemoBatchSchema, PromptRequestSchema } from '../service/prompt-request.js';
import { DemoQuerySchema } from '../service/query.js';
import { DemoBatchResponseSchema, DemoResponseSchema, ErrorSchema, FormatsSchema, HealthSchema, IndexesSchema, PromptResponseSchema } from '../service/responses.js';
import { SETTINGS_TABLE } from '../settings.js';
import { writePaths } from './write-openapi.js';

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });

/** The error answers every route may give, beside its own. */
function withErrors(ok: ZodOpenApiResponsesObject, statuses: readonly string[]): ZodOpenApiResponsesObject {
  const retryAfter = { 'Retry-After': { description: 'whole seconds until the key has a request to spend again (at least 1)', schema: { type: 'integer' as const, minimum: 1 } } };
  const meaning: Record<string, string> = {
    400: 'a bad parameter or body field, or a request over a limit: `param` names it',
    404: 'no such route',
    408: 'the request was not received within the header or request timeout',
    413: 'the body is over the body size limit (refused on its Content-Length, before it is read)',
    401: 'with API keys (a keys file), a request without `Authorization: Bearer <key>`, or whose key is not one of the service\'s (mistyped, revoked): `param` is authorization; the answer carries `WWW-Authenticate: Bearer realm="erc-demos"`. The key is never echoed',
    403: 'the key may not use the index the request names, or that the service would choose when it names none (`param` names it: index, queries.N.index), or lacks the scope the route needs (`param` authorization)',
    429: 'with API keys, the key is over its rate (the keys file\'s `rate`: requests per second and burst): `param` is authorization, the message names the limit, and `Retry-After` says in whole seconds (at least 1) when to try again. Other keys are not affected',
    421: 'the Host header names a host this service does not answer to (ERC_DEMOS_ALLOWED_HOSTS): `param` is host',
    431: 'the request line and headers are over the header size limit (send long input by POST)',
    500: 'an internal error (never the caller\'s input)',
  };
  // Any route may refuse a request's Host (request-guards.ts).
  return {
    ...ok,
    ...Object.fromEntries([...statuses, '421'].map((s) => [s, s === '429' ? { ...json(ErrorSchema, meaning[s]), headers: retryAfter } : json(ErrorSchema, meaning[s])])),
  };
}

/** The routes behind the API keys: a bearer key (when the service has keys; without, they answer anyone). */
const KEYED = [{ apiKey: [] }];

/**
 * The OpenAPI 3.1 description of the HTTP API, generated from the zod schemas that validate requests
 * (query.ts, prompt-request.ts) and describe answers (responses.ts), with the limits this service runs with.
 */
export function openApiDocument(limits: RequestLimits & { maxWriteUtterances: number }, version: string): ReturnType<typeof createDocument> {
  const settings = SETTINGS_TABLE.map((s) => `| \`${s.env}\` | ${s.default} | ${s.doc} |`).join('\n');
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'erc-demos',
      version,
      description: 'Demonstration retrieval for emotion recognition in conversation: the most similar training ' +
        'utterances, with their gold emotions, for any utterance, and whole prompts in the formats InstructERC ' +
        'and related systems train on.\n\nEvery limit is a setting (environment variable, default):\n\n' +
        `| variable | default | what it bounds |\n|---|---|---|\n${settings}\n\nThe values this service runs with are in \`x-limits\`.`,
    },
    'x-limits': limits,
    components: {
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key of the service\'s keys file (ERC_DEMOS_API_KEYS_FILE or `serve --keys`), made by `erc-demos keys new`, ' +
            'sent as `Authorization: Bearer <key>`. Scopes: read (every route here), write (writes, which include read); a key may be ' +
            'limited to some indexes, and given a rate (requests per second, burst), over which it is answered 429 with `Retry-After`. A service without keys (on loopback, or with --allow-anonymous for reads) answers without one.',
        },
      },
    },
    security: KEYED,
    paths: {
      '/demonstrations': {
        get: {
          summary: 'Demonstrations for one utterance',
          requestParams: { query: DemoQuerySchema },
          responses: withErrors({ 200: json(DemoResponseSchema, 'the demonstrations, best first') }, ['400', '401', '403', '408', '429', '431', '500']),
        },
        post: {
          summary: 'Demonstrations for a batch of utterances',
          description: `At most ${limits.maxBatchQueries} queries and ${limits.maxRequestChars} characters, asking for at most ` +
            `${limits.maxDemonstrations} demonstrations in all (k, times the labels searched with per-label). Embedded fairly ` +
            'beside other requests; the answer is streamed; the work stops if the client goes away.',
          requestBody: { content: { 'application/json': { schema: DemoBatchSchema } } },
          responses: withErrors({ 200: json(DemoBatchResponseSchema, 'one result per query, in order') }, ['400', '401', '403', '408', '413', '429', '500']),
        },
      },
      '/prompts': {
        post: {
          summary: 'One whole prompt for a dialogue (docs/PROMPTS.md)',
          description: `The rendered prompt is at most ${limits.maxPromptChars} characters; the dialogue's turns at most ${limits.maxRequestChars}.`,
          requestBody: { content: { 'application/json': { schema: PromptRequestSchema } } },
          responses: withErrors({ 200: json(PromptResponseSchema, 'the prompt, its expected answer and the demonstrations in it') }, ['400', '401', '403', '408', '413', '429', '500']),
        },
      },
      '/': {
        get: { summary: 'The web page: demonstrations and prompts for an utterance or a pasted dialogue (its files answer without a key)', security: [], responses: { 200: { description: 'HTML', content: { 'text/html': {} } } } },
      },
      '/formats': {
        get: { summary: 'The built-in prompt formats', responses: withErrors({ 200: json(FormatsSchema, 'the formats') }, ['401', '429', '500']) },
      },
      '/indexes': {
        get: { summary: 'The served indexes and their manifests', responses: withErrors({ 200: json(IndexesSchema, 'the indexes (those the key may use)') }, ['401', '429', '500']) },
      },
      '/healthz': {
        get: {
          summary: 'Health; 503 once shutdown has begun (draining). Answers without a key',
          security: [],
          responses: { 200: json(HealthSchema, 'serving'), 503: json(HealthSchema, 'draining: route elsewhere') },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics: requests, latency, embedder queue and calls, indexes, process (with keys, a key is needed unless ERC_DEMOS_METRICS_PUBLIC=1)',
          responses: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': {} } }, 401: json(ErrorSchema, 'no key, or a wrong one'), 429: json(ErrorSchema, 'the key is over its rate (`Retry-After`)') },
        },
      },
      ...writePaths(limits.maxWriteUtterances),
      '/openapi.json': {
        get: { summary: 'This document', responses: { 200: { description: 'the OpenAPI 3.1 document', content: { 'application/json': {} } }, 401: json(ErrorSchema, 'no key, or a wrong one'), 429: json(ErrorSchema, 'the key is over its rate (`Retry-After`)') } },
      },
    },
  });
}
