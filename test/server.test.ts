import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder } from '../src/embed/create.js';
import { buildIndex } from '../src/index/build.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { createApp } from '../src/server/app.js';
import { DemoService } from '../src/service/service.js';
import { HAVE_SHARED, SHARED_DATA, tempDir } from './helpers.js';

interface Demo { id: number; text: string; label: string; labels: string[]; speaker: string; corpus: string; split: string; dialogue: string; turn: number; score: number }
interface DemoBody { index: string; embedder: string; took_ms: number; demonstrations: Demo[] }
interface ErrorBody { error: { param: string | null; message: string } }

describe('HTTP service on loopback, two indexes', () => {
  const dir = tempDir();
  let server: Server;
  let base: string;
  const mainCorpus = HAVE_SHARED ? 'meld' : 'sample';

  beforeAll(async () => {
    const embedder = await createEmbedder('use-lite');
    const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
    await buildIndex({ dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], embedder, out: join(dir, 'sample'), name: 'sample' });
    if (HAVE_SHARED) {
      const meld = loadCorpus({ format: 'meld', data: join(SHARED_DATA, 'meld'), splits: ['train'] });
      await buildIndex({ dialogues: meld.dialogues.slice(0, 80), corpus: 'meld', splits: ['train'], embedder, out: join(dir, 'meld'), name: 'meld' });
    }
    const service = await DemoService.load(HAVE_SHARED ? [join(dir, 'meld'), join(dir, 'sample')] : [join(dir, 'sample')]);
    server = createApp(service).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  async function get<T>(path: string): Promise<{ status: number; body: T }> {
    const res = await fetch(base + path);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    return { status: res.status, body: (await res.json()) as T };
  }

  it('GET /healthz and GET /indexes list what is served, with manifests', async () => {
    expect((await get<{ status: string }>('/healthz')).body.status).toBe('ok');
    const { status, body } = await get<{ indexes: { name: string; manifest: { embedder: { id: string }; count: number } }[] }>('/indexes');
    expect(status).toBe(200);
    expect(body.indexes.map((i) => i.name)).toEqual(HAVE_SHARED ? ['meld', 'sample'] : ['sample']);
    expect(body.indexes[0].manifest.embedder.id).toBe('use-lite');
  });

  it('GET /demonstrations returns k labelled demonstrations, the most similar first', async () => {
    const { status, body } = await get<DemoBody>(`/demonstrations?utterance=${encodeURIComponent("I can't believe you did that!")}&k=5&index=${mainCorpus}`);
    expect(status).toBe(200);
    expect(body.index).toBe(mainCorpus);
    expect(body.embedder).toBe('use-lite');
    expect(body.took_ms).toBeGreaterThan(0);
    expect(body.demonstrations).toHaveLength(5);
    for (const d of body.demonstrations) {
      expect(Object.keys(d).sort()).toEqual(['corpus', 'dialogue', 'id', 'label', 'labels', 'score', 'source_label', 'source_labels', 'speaker', 'split', 'text', 'turn']);
      expect(d.corpus).toBe(mainCorpus);
      expect(d.label.length).toBeGreaterThan(0);
    }
    const scores = body.demonstrations.map((d) => d.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('sample index: the same sentence comes back first with its gold label', async () => {
    const { body } = await get<DemoBody>(`/demonstrations?utterance=${encodeURIComponent('There\'s a spider in the bathtub.')}&k=3&index=sample`);
    expect(body.demonstrations[0]).toMatchObject({ text: "There's a spider in the bathtub.", label: 'fear', dialogue: 'train/s09', turn: 0 });
  });

  it('labels, strategy=per-label and exclude_dialogue', async () => {
    const labelled = await get<DemoBody>('/demonstrations?utterance=so%20happy%20for%20you&k=4&index=sample&labels=joy,anger');
    expect(labelled.body.demonstrations.every((d) => ['joy', 'anger'].includes(d.label))).toBe(true);
    const instructercName = await get<DemoBody>('/demonstrations?utterance=so%20happy%20for%20you&k=4&index=sample&labels=joyful');
    expect(instructercName.body.demonstrations.every((d) => d.label === 'joy')).toBe(true);
    const perLabel = await get<DemoBody>('/demonstrations?utterance=so%20happy%20for%20you&index=sample&strategy=per-label');
    expect(perLabel.body.demonstrations.map((d) => d.label).sort()).toEqual(['anger', 'disgust', 'fear', 'joy', 'neutral', 'sadness', 'surprise']);
    const excluded = await get<DemoBody>(`/demonstrations?utterance=${encodeURIComponent('There\'s a spider in the bathtub.')}&k=10&index=sample&exclude_dialogue=train/s09`);
    expect(excluded.body.demonstrations).toHaveLength(10);
    expect(excluded.body.demonstrations.some((d) => d.dialogue === 'train/s09')).toBe(false);
  });

  const bad: [string, string, RegExp][] = [
    ['missing utterance', '/demonstrations?k=5&index=sample', /^utterance: is required/],
    ['empty utterance', '/demonstrations?utterance=&index=sample', /^utterance: must not be empty/],
    ['blank utterance', '/demonstrations?utterance=%20%20&index=sample', /^utterance: must not be empty/],
    ['over-long utterance', `/demonstrations?utterance=${'a'.repeat(2001)}&index=sample`, /^utterance: must be at most 2000 characters/],
    ['k = 0', '/demonstrations?utterance=hi&k=0&index=sample', /^k: must be between 1 and 100/],
    ['k = 101', '/demonstrations?utterance=hi&k=101&index=sample', /^k: must be between 1 and 100/],
    ['k not a number', '/demonstrations?utterance=hi&k=abc&index=sample', /^k: must be an integer/],
    ['k fractional', '/demonstrations?utterance=hi&k=2.5&index=sample', /^k: must be an integer/],
    ['unknown index', '/demonstrations?utterance=hi&index=nope', /^index: unknown index "nope"/],
    ['unknown label', '/demonstrations?utterance=hi&index=sample&labels=joy,bliss', /^labels: unknown label "bliss" \(this index has: neutral, surprise/],
    ['unknown strategy', '/demonstrations?utterance=hi&index=sample&strategy=random', /^strategy: must be one of topk, per-label/],
    ['unknown split', '/demonstrations?utterance=hi&index=sample&split=test', /^split: unknown split "test"/],
    ['repeated parameter', '/demonstrations?utterance=hi&utterance=ho&index=sample', /^utterance: must be given once/],
    ['unknown parameter', '/demonstrations?utterance=hi&index=sample&kk=3', /^kk: unknown parameter/],
    ['dedup not a boolean', '/demonstrations?utterance=hi&index=sample&dedup=yes', /^dedup: must be true or false/],
  ];
  for (const [name, path, message] of bad) {
    it(`400 naming the parameter: ${name}`, async () => {
      const { status, body } = await get<ErrorBody>(path);
      expect(status).toBe(400);
      expect(body.error.message).toMatch(message);
      expect(body.error.param).toBe(body.error.message.split(':')[0]);
    });
  }

  it.runIf(HAVE_SHARED)('400 when several indexes are served and none is named', async () => {
    const { status, body } = await get<ErrorBody>('/demonstrations?utterance=hi');
    expect(status).toBe(400);
    expect(body.error).toEqual({ param: 'index', message: 'index: is required when several indexes are served (meld, sample)' });
  });

  async function post<T>(path: string, body: unknown, raw = false): Promise<{ status: number; body: T }> {
    const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw ? (body as string) : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as T };
  }

  const dialogue = { id: 'train/s07', turns: [{ speaker: 'Oli', text: "I can't believe you did that!", label: 'anger' }, { speaker: 'Pam', text: 'Did what?', label: 'neutral' }] };

  it('POST /prompts renders an InstructERC prompt with leakage-safe demonstrations', async () => {
    const { status, body } = await post<{ prompt: string; target: string; demonstrations: Demo[]; took_ms: number }>('/prompts', { format: 'instructerc', index: 'sample', dialogue, target: 0 });
    expect(status).toBe(200);
    expect(body.target).toBe('angry');
    expect(body.demonstrations).toHaveLength(4);
    // dialogue.id names the sample index's own dialogue: its rows (the target itself among them) are excluded.
    expect(body.demonstrations.some((d) => d.dialogue === 'train/s07')).toBe(false);
    expect(body.prompt.startsWith(`Now you are expert of sentiment and emotional analysis. Here are some examples: Speaker_0:"${body.demonstrations[0].text}" -> `)).toBe(true);
    expect(body.prompt.endsWith(`### \t Speaker_0:"I can't believe you did that!" ### Please select the emotional label of < Speaker_0:"I can't believe you did that!"> from <neutral, surprise, fear, sad, joyful, disgust, angry>:`)).toBe(true);
    const custom = await post<{ prompt: string; target: string }>('/prompts', { format: { name: 'mine', template: '{history}|{label_list}', answer: '{label}', window: 5 }, index: 'sample', dialogue, target: 1, options: { k: 0 } });
    expect(custom.body).toMatchObject({ prompt: "Oli: I can't believe you did that!\nPam: Did what?|neutral, surprise, fear, sadness, joy, disgust, anger", target: 'neutral' });
  });

  const badPrompts: [string, unknown, string, RegExp][] = [
    ['no format', { index: 'sample', dialogue, target: 0 }, 'format', /must be a format name or a format object/],
    ['unknown format', { format: 'alpaca', index: 'sample', dialogue, target: 0 }, 'format', /unknown format "alpaca"/],
    ['bad format object', { format: { name: 'x' }, index: 'sample', dialogue, target: 0 }, 'format.template', /./],
    ['unknown placeholder', { format: { name: 'x', template: '{histroy}' }, index: 'sample', dialogue, target: 0 }, 'format.template', /unknown placeholder \{histroy\}/],
    ['no dialogue', { format: 'instructerc', index: 'sample', target: 0 }, 'dialogue', /is required/],
    ['empty turns', { format: 'instructerc', index: 'sample', dialogue: { turns: [] }, target: 0 }, 'dialogue.turns', /at least one turn/],
    ['empty text', { format: 'instructerc', index: 'sample', dialogue: { turns: [{ speaker: 'A', text: ' ' }] }, target: 0 }, 'dialogue.turns.0.text', /must not be empty/],
    ['unknown label', { format: 'instructerc', index: 'sample', dialogue: { turns: [{ speaker: 'A', text: 'x', label: 'bliss' }] }, target: 0 }, 'dialogue.turns.0.label', /unknown label "bliss"/],
    ['target out of range', { format: 'instructerc', index: 'sample', dialogue, target: 5 }, 'target', /must be a turn index in 0\.\.1, got 5/],
    ['k too large', { format: 'instructerc', index: 'sample', dialogue, target: 0, options: { k: 101 } }, 'options.k', /between 0 and 100/],
    ['unknown option', { format: 'instructerc', index: 'sample', dialogue, target: 0, options: { topk: 3 } }, 'options.topk', /unknown parameter/],
  ];
  for (const [name, body, param, message] of badPrompts) {
    it(`POST /prompts 400: ${name}`, async () => {
      const res = await post<ErrorBody>('/prompts', body);
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe(param);
      expect(res.body.error.message).toMatch(message);
    });
  }

  it('POST with malformed JSON is a 400 naming the body', async () => {
    const res = await post<ErrorBody>('/prompts', '{"format": ', true);
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('body');
  });

  it('POST /demonstrations answers a batch in one request; a bad query is named by position', async () => {
    const { status, body } = await post<{ results: DemoBody[] }>('/demonstrations', { queries: [
      { utterance: 'I got the job!', index: 'sample', k: 2 },
      { utterance: 'spider', index: 'sample', k: 1, labels: ['fear'] },
      { utterance: 'so sad', index: 'sample', strategy: 'per-label' },
    ] });
    expect(status).toBe(200);
    expect(body.results.map((r) => r.demonstrations.length)).toEqual([2, 1, 7]);
    expect(body.results[1].demonstrations[0].label).toBe('fear');
    const bad = await post<ErrorBody>('/demonstrations', { queries: [{ utterance: 'a', index: 'sample' }, { utterance: 'b', index: 'sample', k: 0 }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('queries.1.k');
    const unknownIndex = await post<ErrorBody>('/demonstrations', { queries: [{ utterance: 'a', index: 'sample' }, { utterance: 'b', index: 'nope' }] });
    expect(unknownIndex.body.error.param).toBe('queries.1.index');
    expect((await post<ErrorBody>('/demonstrations', { queries: [] })).body.error.param).toBe('queries');
  });

  it('unknown routes are JSON 404s, and the server keeps serving after every bad request', async () => {
    const { status, body } = await get<ErrorBody>('/nope');
    expect(status).toBe(404);
    expect(body.error.message).toBe('no route GET /nope');
    const again = await get<DemoBody>('/demonstrations?utterance=hello&k=1&index=sample');
    expect(again.status).toBe(200);
  });
});
