/**
 * Seeded generator of hostile and odd HTTP requests for scripts/reliability/reliability.ts, built on fast-check's arbitraries:
 * random types, huge and negative numbers, NUL bytes, lone surrogates (sent as invalid UTF-8), deep JSON,
 * `__proto__` and `constructor` keys, oversized lists, malformed JSON, wrong content types and a gzip bomb. The
 * same seed gives the same requests.
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';

export interface FuzzRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path and query, already percent-encoded (ASCII). */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

const PARAMS = ['utterance', 'k', 'index', 'labels', 'strategy', 'exclude_dialogue', 'split', 'dedup', '__proto__', 'constructor', 'toString', 'x', ''];
const LABELS = ['anger', 'joy', 'neutral', 'sadness', 'angry', 'ANGER', 'nope', ''];

/** Percent-encodes UTF-16 as UTF-8, lone surrogates included (as the invalid bytes a careless client sends). */
function encodeLoose(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
    if (pair) {
      out += encodeURIComponent(s.slice(i, i + 2));
      i += 1;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += `%${(0xe0 | (c >> 12)).toString(16)}%${(0x80 | ((c >> 6) & 0x3f)).toString(16)}%${(0x80 | (c & 0x3f)).toString(16)}`;
    } else {
      out += encodeURIComponent(s[i]);
    }
  }
  return out;
}

const oddNumber = fc.oneof(
  fc.integer().map(String), fc.double().map(String),
  fc.constantFrom('-1', '0', '1e308', '-0', 'NaN', 'Infinity', '99999999999999999999999', '1.5', '0x10', ' 5', '5 ', ''),
);
const oddText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }), // any code point, lone surrogates included
  fc.constantFrom('\u0000', 'a\u0000b', ' ', '\t\n', 'a'.repeat(2001), '😀'.repeat(1001), '我'.repeat(2000), "I can't believe it!", 'anger,joy', ',,,'),
);
const value = fc.oneof({ weight: 2, arbitrary: oddText }, { weight: 1, arbitrary: oddNumber }, { weight: 1, arbitrary: fc.array(fc.constantFrom(...LABELS), { maxLength: 300 }).map((l) => l.join(',')) });

const getRequest: fc.Arbitrary<FuzzRequest> = fc.record({
  path: fc.constantFrom('/demonstrations', '/demonstrations', '/demonstrations', '/healthz', '/indexes', '/prompts', '/nope', '/demonstrations/', '//demonstrations'),
  params: fc.array(fc.tuple(fc.constantFrom(...PARAMS), value), { maxLength: 6 }),
  withUtterance: fc.boolean(),
}).map(({ path, params, withUtterance }) => {
  const pairs = withUtterance ? [['utterance', 'hello there'], ...params] : params;
  const query = pairs.map(([k, v]) => `${encodeLoose(k)}=${encodeLoose(v)}`).join('&');
  return { method: 'GET' as const, path: query ? `${path}?${query}` : path, headers: {} };
});

/** JSON with every kind of value, including `__proto__` keys and deep nesting. */
const json = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map((depth) => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`) as unknown) },
  { weight: 1, arbitrary: fc.constant(JSON.parse('{"__proto__": {"k": 3}, "constructor": {"prototype": {}}}') as unknown) },
);
const query = fc.dictionary(fc.constantFrom(...PARAMS, 'queries'), fc.oneof(json, value, fc.array(fc.constantFrom(...LABELS), { maxLength: 200 })), { maxKeys: 6 });

const demoBatch = fc.oneof(
  fc.record({ queries: fc.array(fc.oneof(query, fc.record({ utterance: oddText, k: fc.oneof(fc.integer(), fc.double()) })), { maxLength: 30 }) }),
  fc.record({ queries: json }),
  json,
);

const promptBody = fc.record({
  format: fc.oneof(
    fc.constantFrom('instructerc', 'instructerc-impact', 'zh-erc', 'wassa-t1', 'nope', ''),
    fc.dictionary(fc.constantFrom('name', 'template', 'turn', 'window', 'demo', 'query', 'answer', 'history'), fc.oneof(json, fc.constantFrom('{history}', '{constructor}', '{__proto__}', '{demonstrations}{history}', `${'{history}'.repeat(50)}`))),
  ),
  dialogue: fc.oneof(json, fc.record({ turns: fc.array(fc.record({ speaker: oddText, text: oddText, label: fc.constantFrom(...LABELS) }), { maxLength: 20 }) })),
  target: fc.oneof(fc.integer(), json),
  options: fc.oneof(json, fc.record({ k: fc.oneof(fc.integer(), json), window: fc.oneof(fc.integer(), json), strategy: fc.oneof(oddText, fc.constantFrom('topk', 'per-label')), labels: fc.array(oddText, { maxLength: 150 }) }, { requiredKeys: [] })),
}, { requiredKeys: [] });

const postRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  demoBatch.map((body) => ({ method: 'POST' as const, path: '/demonstrations', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body) ?? 'null') })),
  promptBody.map((body) => ({ method: 'POST' as const, path: '/prompts', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) })),
  fc.tuple(fc.constantFrom('/demonstrations', '/prompts'), fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16'))
    .map(([path, text, type]) => ({ method: 'POST' as const, path, headers: { 'content-type': type }, body: Buffer.from(text) })),
  fc.constantFrom('PUT', 'DELETE').map((method) => ({ method: method as 'PUT' | 'DELETE', path: '/demonstrations', headers: {} })),
);

/** 100 MB of zeros, 100 KB gzipped: body-parser must stop inflating at the body limit. */
function gzipBomb(): FuzzRequest {
  const body = gzipSync(Buffer.alloc(100 * 1024 * 1024, '0'));
  return { method: 'POST', path: '/demonstrations', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body };
}

export function fuzzRequests(count: number, seed: number): FuzzRequest[] {
  const generated = fc.sample(fc.oneof(getRequest, postRequest), { seed, numRuns: count - 2 });
  return [...generated, gzipBomb(), { method: 'POST', path: '/demonstrations', headers: { 'content-type': 'application/json', 'content-encoding': 'br' }, body: Buffer.from('{}') }];
}
