import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNIFIED_LABELS } from '../src/corpus/labels.js';
import { loadCorpus } from '../src/corpus/load.js';
import { parseFraction, sampleDialogues, sampleMismatch } from '../src/corpus/sample.js';
import { loadSources, parseSourceSpec } from '../src/corpus/sources.js';
import type { Dialogue } from '../src/corpus/types.js';
import { InputError } from '../src/errors.js';
import { createApp } from '../src/server/app.js';
import { DemoService } from '../src/service/service.js';
import { cliAsync as cli, HAVE_SHARED, SHARED_DATA, SHARED_SKIP_REASON, tempDir } from './helpers.js';

const MELD = join(SHARED_DATA, 'meld');
const EMORY = join(SHARED_DATA, 'emorynlp');
const STATEMENT = `from <${UNIFIED_LABELS.join(', ')}>`;

/** DailyDialog's label names, for a JSONL corpus written from real MELD dialogues: a corpus the paper does not map. */
const DAILYDIALOG_NAMES: Record<string, string> = {
  neutral: 'no emotion', joy: 'happiness', sadness: 'sadness', anger: 'anger', surprise: 'surprise', fear: 'fear', disgust: 'disgust',
};
const DAILYDIALOG_MAP = { dailydialog: { 'no emotion': 'neutral', happiness: 'joyful', sadness: 'sad', anger: 'mad', surprise: 'powerful', fear: 'fear', disgust: 'disgust' } };

function writeDailyDialog(dir: string): string {
  const dev = loadCorpus({ format: 'meld', data: MELD, splits: ['dev'] }).dialogues.slice(0, 40);
  const lines = dev.map((d, i) => JSON.stringify({ id: `dd${i}`, split: 'train', turns: d.turns.map((t) => ({ speaker: t.speaker, text: t.text, label: DAILYDIALOG_NAMES[t.labels[0]] })) }));
  writeFileSync(join(dir, 'train.jsonl'), `${lines.join('\n')}\n`);
  return dir;
}

describe('sources, label maps and samples, checked before any embedding', () => {
  const dir = tempDir();
  const dialogue = (corpus: string, id: string, labels: string[]): Dialogue => ({ id, corpus, split: 'train', turns: labels.map((l, i) => ({ index: i, speaker: 'A', text: `t${i}`, labels: [l] })) });

  it('parses <format>:<path>[:<corpus-name>] and refuses an unknown format', () => {
    expect(parseSourceSpec('jsonl:/data/iemocap:iemocap')).toEqual({ format: 'jsonl', data: '/data/iemocap', name: 'iemocap' });
    expect(parseSourceSpec('meld:/data/meld')).toEqual({ format: 'meld', data: '/data/meld' });
    expect(() => parseSourceSpec('csv:/x')).toThrow(/source: "csv:\/x" must be <format>:<path>/);
    expect(() => parseSourceSpec('meld:')).toThrow(/has no path/);
  });

  it('fractions in (0, 1] only, and whole dialogues sampled per corpus (ratio) or from the pool (total), seeded', () => {
    for (const bad of ['0', '3/2', 'abc', '-1/8', '1/0', '', '1.5']) expect(() => parseFraction(bad)).toThrow(InputError);
    expect(parseFraction('1/8').value).toBe(0.125);
    expect(parseFraction('0.25').value).toBe(0.25);
    const pool = [
      ...Array.from({ length: 80 }, (_, i) => dialogue('a', `a/${i}`, ['x'])),
      ...Array.from({ length: 20 }, (_, i) => dialogue('b', `b/${i}`, ['y'])),
    ];
    const spec = { fraction: parseFraction('1/4'), mix: 'ratio' as const, seed: 3 };
    const ratio = sampleDialogues(pool, spec);
    expect(ratio.record.per_corpus).toEqual({ a: { sampled: 20, of: 80 }, b: { sampled: 5, of: 20 } });
    expect(sampleDialogues(pool, spec).record).toEqual(ratio.record); // same seed, same sample
    expect(sampleDialogues(pool, { ...spec, seed: 4 }).record.dialogues).not.toEqual(ratio.record.dialogues);
    const total = sampleDialogues(pool, { ...spec, mix: 'total' });
    expect(total.dialogues).toHaveLength(25);
    expect(sampleMismatch(ratio.record, ratio.record)).toBeUndefined();
    expect(sampleMismatch(ratio.record, total.record)).toMatch(/built from --fraction 1\/4 --mix ratio --seed 3, this export asks for --fraction 1\/4 --mix total/);
    expect(sampleMismatch(null, ratio.record)).toMatch(/holds all its training data/);
  });

  it.skipIf(!HAVE_SHARED)('refuses colliding sources, native pools, unmapped labels and maps outside the space, naming corpus and label', () => {
    const dd = writeDailyDialog(dir);
    expect(() => loadSources([{ format: 'meld', data: MELD }, { format: 'meld', data: MELD }], { splits: ['train'] })).toThrow(/two sources are named "meld"/);
    expect(() => loadSources([{ format: 'meld', data: MELD }, { format: 'emorynlp', data: EMORY }], { splits: ['train'], labelSpace: 'native' })).toThrow(/label-space: native cannot pool meld, emorynlp/);
    expect(() => loadSources([{ format: 'meld', data: MELD }, { format: 'jsonl', data: dd, name: 'dailydialog' }], { splits: ['train'] }))
      .toThrow(/label-map: dailydialog labels .*"no emotion" \(\d+ utterances\).* have no unified label/);
    expect(() => loadSources([{ format: 'jsonl', data: dd, name: 'dailydialog' }], { splits: ['train'], labelMap: { dailydialog: { ...DAILYDIALOG_MAP.dailydialog, happiness: 'happy' } } }))
      .toThrow(/dailydialog label "happiness" is mapped onto "happy", which is not in the unified space/);
    const pool = loadSources([{ format: 'meld', data: MELD }, { format: 'emorynlp', data: EMORY }, { format: 'jsonl', data: dd, name: 'dailydialog' }], { splits: ['train'], labelMap: DAILYDIALOG_MAP });
    expect(pool.labelSpace).toBe('unified');
    expect(pool.sources.map((s) => s.corpus)).toEqual(['meld', 'emorynlp', 'dailydialog']);
    expect(new Set(pool.dialogues.map((d) => d.id)).size).toBe(pool.dialogues.length);
    const emory = pool.dialogues.find((d) => d.corpus === 'emorynlp' && d.turns.some((t) => t.sourceLabels?.[0] === 'Scared'))!;
    expect(emory.id).toMatch(/^emorynlp\//);
    const scared = emory.turns.find((t) => t.sourceLabels?.[0] === 'Scared')!;
    expect(scared.labels).toEqual(['fear']); // docs/LABELS.md: Table 3's swapped cell
    for (const d of pool.dialogues) for (const t of d.turns) for (const l of t.labels) expect(UNIFIED_LABELS).toContain(l);
  });
});

describe.skipIf(!HAVE_SHARED)('a pooled MELD + EmoryNLP + JSONL index on the real corpus files, through every door', () => {
  const dir = tempDir();
  const pool = join(dir, 'pool');
  const mapFile = join(dir, 'map.json');
  let dd: string;
  let sources: string[];
  const sample = ['--fraction', '1/8', '--mix', 'ratio', '--seed', '1'];
  let server: Server;
  let base: string;

  beforeAll(async () => {
    dd = writeDailyDialog(tempDir());
    writeFileSync(mapFile, JSON.stringify(DAILYDIALOG_MAP));
    sources = ['--source', `meld:${MELD}`, '--source', `emorynlp:${EMORY}`, '--source', `jsonl:${dd}:dailydialog`];
    const built = await cli(['build', ...sources, '--label-map', mapFile, ...sample, '--out', pool], 300_000);
    expect(built.stderr).toMatch(/label space: unified/);
    expect(built.code).toBe(0);
    const service = await DemoService.load([pool]);
    server = createApp(service).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  it('builds with the unified labels, each row keeping its corpus and own label, a sample of each corpus recorded', () => {
    const manifest = JSON.parse(readFileSync(join(pool, 'manifest.json'), 'utf8'));
    expect(manifest.label_space).toBe('unified');
    expect(manifest.labels).toEqual([...UNIFIED_LABELS]);
    expect(manifest.sources.map((s: { corpus: string }) => s.corpus)).toEqual(['meld', 'emorynlp', 'dailydialog']);
    expect(manifest.label_map.dailydialog.happiness).toBe('joyful');
    expect(manifest.sample).toMatchObject({ fraction: '1/8', mix: 'ratio', seed: 1 });
    for (const [corpus, n] of Object.entries(manifest.sample.per_corpus as Record<string, { sampled: number; of: number }>)) {
      expect(Math.abs(n.sampled - n.of / 8), corpus).toBeLessThanOrEqual(1);
    }
    const db = new Database(join(pool, 'meta.sqlite'), { readonly: true });
    const rows = db.prepare('SELECT corpus, dialogue, labels, source_labels FROM utterances').all() as { corpus: string; dialogue: string; labels: string; source_labels: string }[];
    db.close();
    expect(new Set(rows.map((r) => r.corpus))).toEqual(new Set(['meld', 'emorynlp', 'dailydialog']));
    expect(new Set(rows.map((r) => r.dialogue))).toEqual(new Set(manifest.sample.dialogues));
    const anger = rows.find((r) => r.corpus === 'meld' && JSON.parse(r.source_labels)[0] === 'anger')!;
    expect(JSON.parse(anger.labels)).toEqual(['mad']);
    expect(manifest.space_selection.method).toBe('cross-validation');
  });

  it('filters by corpus on GET, POST and POST /prompts, answers carrying the unified label and the source label', async () => {
    const utterance = encodeURIComponent("I can't believe you did that!");
    for (const corpus of ['meld', 'emorynlp', 'dailydialog']) {
      const res = await fetch(`${base}/demonstrations?utterance=${utterance}&k=8&corpus=${corpus}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { demonstrations: { corpus: string; label: string; source_label: string }[] };
      expect(body.demonstrations).toHaveLength(8);
      for (const d of body.demonstrations) {
        expect(d.corpus).toBe(corpus);
        expect(UNIFIED_LABELS).toContain(d.label);
      }
    }
    const perLabel = (await (await fetch(`${base}/demonstrations?utterance=${utterance}&strategy=per-label&corpus=emorynlp`)).json()) as { demonstrations: { corpus: string; label: string; source_label: string }[] };
    expect(new Set(perLabel.demonstrations.map((d) => d.corpus))).toEqual(new Set(['emorynlp']));
    expect(perLabel.demonstrations.find((d) => d.label === 'fear')?.source_label).toBe('Scared');
    const unknown = await fetch(`${base}/demonstrations?utterance=${utterance}&corpus=iemocap`);
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({ error: { param: 'corpus', message: expect.stringMatching(/unknown corpus "iemocap" \(this index holds: meld, emorynlp, dailydialog\)/) } });

    const batch = await fetch(`${base}/demonstrations`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ queries: [{ utterance: 'Oh my God!', k: 5, corpus: ['dailydialog'] }, { utterance: 'Fine.', k: 5, corpus: ['meld', 'emorynlp'] }] }),
    });
    const batchBody = (await batch.json()) as { results: { demonstrations: { corpus: string }[] }[] };
    expect(batchBody.results[0].demonstrations.every((d) => d.corpus === 'dailydialog')).toBe(true);
    expect(batchBody.results[1].demonstrations.every((d) => d.corpus !== 'dailydialog')).toBe(true);

    const prompt = await fetch(`${base}/prompts`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ format: 'instructerc', dialogue: { corpus: 'meld', turns: [{ speaker: 'Ross', text: 'You ate my sandwich?', label: 'anger' }] }, target: 0, options: { k: 4, corpus: ['emorynlp'] } }),
    });
    expect(prompt.status).toBe(200);
    const promptBody = (await prompt.json()) as { prompt: string; target: string; demonstrations: { corpus: string }[] };
    expect(promptBody.target).toBe('mad'); // MELD's anger, said in the unified space
    expect(promptBody.prompt).toContain(STATEMENT);
    expect(promptBody.demonstrations.map((d) => d.corpus)).toEqual(['emorynlp', 'emorynlp', 'emorynlp', 'emorynlp']);
  });

  it('query --corpus from the CLI', async () => {
    const queried = await cli(['query', '--index', pool, '-k', '4', '--corpus', 'EmoryNLP', 'I am so scared right now']);
    expect(queried.code).toBe(0);
    const body = JSON.parse(queried.stdout) as { demonstrations: { corpus: string; source_label: string }[] };
    expect(body.demonstrations.map((d) => d.corpus)).toEqual(['emorynlp', 'emorynlp', 'emorynlp', 'emorynlp']);
  });

  it('exports the mixed training set of the sample, byte-identical for the same seed, demonstrations only from the sample', async () => {
    const manifest = JSON.parse(readFileSync(join(pool, 'manifest.json'), 'utf8'));
    const inSample = new Set<string>(manifest.sample.dialogues);
    const db = new Database(join(pool, 'meta.sqlite'), { readonly: true });
    const dialogueOf = new Map((db.prepare('SELECT id, dialogue FROM utterances').all() as { id: number; dialogue: string }[]).map((r) => [r.id, r.dialogue]));
    db.close();
    const exportTo = (out: string, shape = 'instructerc') => cli(['prompts', '--index', pool, ...sources, '--split', 'train', ...sample, '--jsonl-shape', shape, '--out', out], 300_000);
    const first = await exportTo(join(dir, 'a.jsonl'));
    expect(first.code).toBe(0);
    expect((await exportTo(join(dir, 'b.jsonl'))).code).toBe(0);
    const bytes = readFileSync(join(dir, 'a.jsonl'));
    expect(bytes.equals(readFileSync(join(dir, 'b.jsonl')))).toBe(true);
    const lines = bytes.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; input: string; target: string; demonstrations: number[] });
    const targetDialogues = new Map<string, Set<string>>();
    for (const line of lines) {
      const dialogue = line.id.slice(0, line.id.lastIndexOf('/'));
      expect(inSample.has(dialogue)).toBe(true);
      const corpus = dialogue.slice(0, dialogue.indexOf('/'));
      if (!targetDialogues.has(corpus)) targetDialogues.set(corpus, new Set());
      targetDialogues.get(corpus)!.add(dialogue);
      expect(line.input).toContain(STATEMENT);
      expect(UNIFIED_LABELS).toContain(line.target);
      expect(line.demonstrations.length).toBe(4);
      for (const id of line.demonstrations) {
        expect(inSample.has(dialogueOf.get(id)!)).toBe(true);
        expect(dialogueOf.get(id)).not.toBe(dialogue); // never its own dialogue
      }
    }
    for (const [corpus, n] of Object.entries(manifest.sample.per_corpus as Record<string, { sampled: number; of: number }>)) {
      expect(targetDialogues.get(corpus)?.size).toBe(n.sampled);
      expect(Math.abs(n.sampled - n.of / 8)).toBeLessThanOrEqual(1);
    }
    expect(new Set(lines.flatMap((l) => l.demonstrations.map((id) => dialogueOf.get(id)!.split('/')[0]))).size).toBeGreaterThan(1); // demonstrations cross corpora

    const alpaca = await exportTo(join(dir, 'alpaca.jsonl'), 'alpaca');
    expect(alpaca.code).toBe(0);
    const alpacaLines = readFileSync(join(dir, 'alpaca.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { instruction: string; input: string; output: string });
    expect(alpacaLines).toHaveLength(lines.length);
    alpacaLines.forEach((l, i) => {
      expect(`${l.instruction}${l.input}`).toContain(STATEMENT);
      expect(l.output).toBe(lines[i].target);
    });
  });

  it('refuses a fraction export whose sample differs from the index, or over a full index, writing nothing', async () => {
    const refused = async (args: string[], index = pool) => {
      const out = join(dir, `refused-${args.join('')}.jsonl`.replace(/\//g, '_'));
      const run = await cli(['prompts', '--index', index, ...sources, '--split', 'train', ...args, '--out', out]);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
      return run;
    };
    expect(await refused(['--fraction', '1/4', '--mix', 'ratio', '--seed', '1'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/fraction: the index was built from --fraction 1\/8 --mix ratio --seed 1, this export asks for --fraction 1\/4 --mix ratio --seed 1/) });
    expect(await refused(['--fraction', '1/8', '--mix', 'ratio', '--seed', '2'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--seed 2/) });
    expect(await refused(['--fraction', '1/8', '--mix', 'total', '--seed', '1'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--mix total/) });
    expect(await refused(['--fraction', '3/2'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/invalid fraction: "3\/2" must be a fraction in \(0, 1\]/) });
    expect((await refused(['--fraction', '1/8', '--mix', 'both'])).stderr).toMatch(/'--mix <mix>' argument 'both' is invalid/);

    const full = join(dir, 'dd-full');
    expect((await cli(['build', '--source', `jsonl:${dd}:dailydialog`, '--label-space', 'unified', '--label-map', mapFile, '--projection', 'none', '--out', full])).code).toBe(0);
    const overFull = await cli(['prompts', '--index', full, '--source', `jsonl:${dd}:dailydialog`, '--split', 'train', ...sample, '--out', join(dir, 'full.jsonl')]);
    expect(overFull.code).toBe(2);
    expect(overFull.stderr).toMatch(/the index holds all its training data, not a sample/);
    expect(existsSync(join(dir, 'full.jsonl'))).toBe(false);
  });

  it('evaluates one corpus\'s test split against the pool in the unified space', async () => {
    const run = await cli(['eval', '--index', pool, '--source', `emorynlp:${EMORY}`, '--split', 'test', '--json']);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { corpus: string; n: number; per_label: { label: string }[]; other_corpus_share: number; knn_weighted_f1: number; indexed_targets: number };
    expect(result.corpus).toBe('emorynlp');
    expect(result.n).toBe(loadCorpus({ format: 'emorynlp', data: EMORY, splits: ['test'] }).dialogues.reduce((n, d) => n + d.turns.length, 0));
    for (const l of result.per_label) expect(UNIFIED_LABELS).toContain(l.label);
    expect(result.indexed_targets).toBe(0);
    expect(result.other_corpus_share).toBeGreaterThan(0);
    expect(result.other_corpus_share).toBeLessThan(100);
    expect(result.knn_weighted_f1).toBeGreaterThan(20);
  });

  it('every bad build input is named, before any embedding, and no index is written', async () => {
    const cases: [string[], RegExp][] = [
      [['--source', `meld:${MELD}`, '--source', `jsonl:${dd}:dailydialog`], /invalid label-map: dailydialog labels .* have no unified label/],
      [['--source', `meld:${MELD}`, '--source', `meld:${MELD}`], /invalid source: two sources are named "meld"/],
      [['--source', `meld:${MELD}`, '--source', `emorynlp:${EMORY}`, '--label-space', 'native'], /invalid label-space: native cannot pool/],
      [['--source', `meld:${MELD}`, '--fraction', '0'], /invalid fraction: "0"/],
      [['--source', `meld:${MELD}`, '--fraction', 'abc'], /invalid fraction: "abc"/],
      [['--source', `meld:${MELD}`, '--fraction', '3/2'], /invalid fraction: "3\/2"/],
      [['--source', `meld:${MELD}`, '--fraction', '1/2', '--mix', 'both'], /argument 'both' is invalid/],
      [['--source', `meld:${MELD}`, '--mix', 'ratio'], /invalid mix: only means something with --fraction/],
      [['--source', `meld:${MELD}`, '--corpus', 'meld', '--data', MELD], /invalid source: give either --source/],
    ];
    for (const [args, message] of cases) {
      const out = join(dir, 'never');
      const run = await cli(['build', ...args, '--out', out]);
      expect(run.code, args.join(' ')).not.toBe(0);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toMatch(/embedding \(/);
      expect(existsSync(out)).toBe(false);
    }
  });
});

if (!HAVE_SHARED) console.warn(`[pool tests] ${SHARED_SKIP_REASON}`);
