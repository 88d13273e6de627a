/**
 * What the main thread of `serve` spends its CPU on, per request, from a V8 CPU profile (`node --cpu-prof`): each
 * sample's stack is charged to the innermost frame that names a part (HTTP parsing and sockets, routing, validation,
 * logging, metrics, search, selection and the service, serialisation, the embedder's messages), else to its own
 * runtime function (garbage collection, the rest). Idle samples are left out.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string }; children?: number[] }
interface Profile { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] }

/** The part a frame belongs to, or undefined when it names none (the caller's part then counts). */
function partOf(frame: ProfileNode['callFrame']): string | undefined {
  const { url, functionName: f } = frame;
  if (f === '(garbage collector)') return 'gc';
  if (f === '(idle)') return 'idle';
  if (f === '(program)') return 'program';
  if (f === 'stringify' && url === '') return 'serialisation';
  if (f === 'searchKnn' || /hnswlib/.test(url)) return 'search';
  if (/node_modules\/zod\//.test(url) || /\/service\/(query|limits)\.js/.test(url)) return 'validation';
  if (/node_modules\/(pino|pino-http|pino-std-serializers|sonic-boom|thread-stream)\//.test(url) || /\/server\/logging\.js/.test(url)) return 'logging';
  if (/node_modules\/prom-client\//.test(url) || /\/server\/metrics\.js/.test(url)) return 'metrics';
  if (/node_modules\/(express|router|body-parser|finalhandler|send|serve-static|qs|parseurl|path-to-regexp|accepts|type-is|content-type|on-finished|vary|cors)\//.test(url)) return 'routing';
  if (/\/server\/(stream-json)\.js/.test(url)) return 'serialisation';
  if (/\/server\/app\.js/.test(url)) return 'routing';
  if (/\/(keys|server)\//.test(url)) return 'guards and keys';
  if (/\/(retrieve|index)\//.test(url)) return 'search';
  if (/\/(service|prompt)\//.test(url)) return 'selection and service';
  if (/\/embed\//.test(url) || /node:internal\/worker/.test(url)) return 'embedder messages';
  if (/^node:(_http|http|internal\/http|net|internal\/stream_base|internal\/streams|stream|internal\/url|url|querystring|internal\/querystring)/.test(url)) return 'HTTP';
  return undefined;
}

/**
 * CPU ms per part (idle excluded) of the samples taken between `fromUs` and `toUs`: microseconds of the monotonic
 * clock, as `process.hrtime` reads it in any process of the machine (V8 stamps its samples by the same clock).
 */
export function cpuByPart(file: string, fromUs = 0, toUs = Number.POSITIVE_INFINITY): Record<string, number> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const cached = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = cached.get(id);
    if (known) return known;
    let part: string | undefined;
    for (let at: number | undefined = id; at !== undefined && part === undefined; at = parent.get(at)) part = partOf(byId.get(at)!.callFrame);
    cached.set(id, part ?? 'other');
    return part ?? 'other';
  };
  const ms: Record<string, number> = {};
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < fromUs || at > toUs) return;
    const part = resolve(id);
    ms[part] = (ms[part] ?? 0) + delta / 1000;
  });
  delete ms.idle;
  return ms;
}
