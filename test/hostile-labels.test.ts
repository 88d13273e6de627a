import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpusLabelMap, mapLabel, mergeLabelMaps, readLabelMapFile } from '../src/corpus/label-map.js';
import { labelScheme, toInstructercLabel, toUnifiedLabel } from '../src/corpus/labels.js';
import { loadCorpus } from '../src/corpus/load.js';
import { sampleDialogues, parseFraction } from '../src/corpus/sample.js';
import { loadSources } from '../src/corpus/sources.js';
import type { Embedder } from '../src/embed/types.js';
import { buildIndex } from '../src/index/build.js';
import { DemoIndex, readManifest } from '../src/index/open.js';
import { retrieve } from '../src/retrieve/retrieve.js';
import { resolveLabels } from '../src/retrieve/select.js';
import { cli, tempDir } from './helpers.js';

/**
 * Issue 23, items 4 and 13: labels, corpus names and label-map keys named like JavaScript's object built-ins. A label
 * `constructor` made a manifest that could never be opened (label_counts.constructor: "function Object() {...}1"),
 * `__proto__` vanished from the label list while its rows were still returned, a `--label-map` key `__proto__` was
 * dropped as it was read (and the error asked to add exactly it), and `--corpus-name constructor` failed with
 * "scheme.own is not iterable".
 */
const HOSTILE = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'] as const;

/** Dialogues whose turns cycle through the hostile labels, with words that differ by label so LDA has something to fit. */
function writeCorpus(file: string, dialogues = 30): void {
  const words = ['build', 'proto', 'string', 'owner', 'value'];
  const lines: string[] = [];
  for (let d = 0; d < dialogues; d++) {
    const turns = HOSTILE.map((label, i) => ({
      speaker: i % 2 ? 'constructor' : '__proto__',
      text: `${words[i]} ${words[(i + d) % 5]} number ${d} turn ${i}`,
      label,
    }));
    lines.push(JSON.stringify({ id: d === 0 ? '__proto__' : d === 1 ? 'constructor' : `d${d}`, turns }));
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/** A deterministic embedder (sha256 of the words): fast, and a real build's input all the same. */
function hashEmbedder(dim = 32): Embedder {
  const vector = (text: string) => {
    const v = new Float32Array(dim);
    for (const word of text.split(' ')) {
      const h = createHash('sha256').update(word).digest();
      for (let i = 0; i < dim; i++) v[i] += (h[i] - 127.5) / 128;
    }
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  };
  return { id: 'hash-test', dim, embed: async (texts) => texts.map(vector) };
}

describe('labels named like object built-ins (issue 23, item 4)', () => {
  const dir = tempDir();
  const file = join(dir, 'hostile.jsonl');
  writeCorpus(file);

  it('a corpus named constructor or __proto__ has no label scheme, and its labels load as they are', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(labelScheme(name)).toBeUndefined();
      const corpus = loadCorpus({ format: 'jsonl', data: file, splits: ['train'], name });
      expect(corpus.corpus).toBe(name);
      expect(new Set(corpus.dialogues.flatMap((d) => d.turns.map((t) => t.labels[0])))).toEqual(new Set(HOSTILE));
    }
    // A known corpus never maps a built-in's name through an inherited property.
    expect(toInstructercLabel('meld', 'constructor')).toBe('constructor');
    expect(() => toUnifiedLabel('meld', 'constructor')).toThrow(/no unified .* "constructor"/);
    expect(() => toUnifiedLabel('meld', '__proto__')).toThrow(/no unified .* "__proto__"/);
  });

  // A corpus of an ordinary name first: its labels alone made the manifest unreadable.
  for (const [corpus, projection] of [['hostile', { kind: 'none' }], ['constructor', { kind: 'lda', shrinkage: 0.1, blend: 0.4 }]] as const) {
    it(`builds corpus ${corpus} (${projection.kind} space), opens, lists every label and filters by each`, async () => {
      const out = join(dir, `idx-${projection.kind}`);
      const { dialogues } = loadCorpus({ format: 'jsonl', data: file, splits: ['train'], name: corpus });
      const built = await buildIndex({ dialogues, corpus, splits: ['train'], embedder: hashEmbedder(), out, projection });
      expect(built.labels).toEqual([...HOSTILE].sort());

      // The manifest as written: every label counted, as an own key.
      const written = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
      expect(Object.keys(written.label_counts).sort()).toEqual([...HOSTILE].sort());
      for (const label of HOSTILE) expect(written.label_counts[label]).toBe(30);

      const index = await DemoIndex.open(out, { embedder: hashEmbedder() });
      expect(index.labels).toEqual([...HOSTILE].sort());
      expect(Object.hasOwn(index.manifest.label_counts, '__proto__')).toBe(true);
      expect(index.manifest.label_counts.__proto__).toBe(30);
      expect(index.manifest.label_counts.constructor).toBe(30);
      expect(index.manifest.corpus).toBe(corpus);
      if (projection.kind === 'lda') expect(index.crossFitted).toBe(true);

      const [query] = await hashEmbedder().embed(['proto build number 3']);
      const q = index.queryVector(query);
      for (const label of HOSTILE) {
        expect(resolveLabels(index.manifest.corpus, index.labels, [label])).toEqual([label]);
        const demos = retrieve(index, q, { k: 5, strategy: 'topk', labels: [label] });
        expect(demos).toHaveLength(5);
        for (const d of demos) expect(d.labels).toEqual([label]);
      }
      const perLabel = retrieve(index, q, { k: 1, strategy: 'per-label' });
      expect(perLabel.map((d) => d.label).sort()).toEqual([...HOSTILE].sort());
      // A training utterance searched in its fold's space (cross-fitted), its own dialogue named `__proto__`.
      const own = index.rows.find((r) => r.dialogue === 'train/__proto__')!;
      const space = index.space(own.dialogue);
      const demos = retrieve(space, space.vector(own.id), { k: 3, strategy: 'topk', labels: ['__proto__'], excludeDialogues: [own.dialogue] });
      expect(demos).toHaveLength(3);
      for (const d of demos) expect(d.label).toBe('__proto__');
    });
  }

  it('the CLI builds --corpus-name constructor, and query filters by __proto__', () => {
    const out = join(dir, 'cli-idx');
    const built = cli(['build', '--corpus', 'jsonl', '--data', file, '--corpus-name', 'constructor', '--projection', 'none', '--out', out]);
    expect(built.stderr).not.toMatch(/not iterable/);
    expect(built.code).toBe(0);
    expect(readManifest(out).labels).toEqual([...HOSTILE].sort());
    for (const label of ['__proto__', 'constructor']) {
      const r = cli(['query', '--index', out, '--labels', label, '-k', '4', 'proto build number 3']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const demos = JSON.parse(r.stdout).demonstrations as { label: string; corpus: string }[];
      expect(demos).toHaveLength(4);
      for (const d of demos) expect(d).toMatchObject({ label, corpus: 'constructor' });
    }
  });

  it('a sample of a corpus named __proto__ records it per corpus', () => {
    const { dialogues } = loadCorpus({ format: 'jsonl', data: file, splits: ['train'], name: '__proto__' });
    const { record } = sampleDialogues(dialogues, { fraction: parseFraction('1/2'), mix: 'ratio', seed: 1 });
    expect(Object.keys(record.per_corpus)).toEqual(['__proto__']);
    expect(record.per_corpus.__proto__).toEqual({ sampled: 15, of: 30 });
  });
});

describe('label maps keyed by object built-ins (issue 23, item 13)', () => {
  const dir = tempDir();
  const file = join(dir, 'hostile.jsonl');
  writeCorpus(file, 10);
  const mapFile = join(dir, 'map.json');
  // Written as text: an object literal's __proto__ would set its prototype, not make a key.
  writeFileSync(mapFile, '{"__proto__": {"__proto__": "joyful", "constructor": "sad", "toString": "neutral", "hasOwnProperty": "mad", "valueOf": "fear"},\n' +
    ' "constructor": {"__proto__": "fear", "constructor": "peaceful", "toString": "neutral", "hasOwnProperty": "mad", "valueOf": "disgust"}}\n');

  it('reads a __proto__ key as the own key it is, at both levels', () => {
    const map = readLabelMapFile(mapFile);
    expect(Object.keys(map).sort()).toEqual(['__proto__', 'constructor']);
    expect(Object.hasOwn(map, '__proto__')).toBe(true);
    expect(Object.keys(map.__proto__).sort()).toEqual([...HOSTILE].sort());
    expect(map.__proto__.__proto__).toBe('joyful');
    expect(map['constructor' as string].__proto__).toBe('fear');
    expect(mapLabel(corpusLabelMap('constructor', map), '__proto__')).toBe('fear');
    expect(mapLabel(corpusLabelMap('constructor', map), 'constructor')).toBe('peaceful');
    // A corpus the map lacks gets no inherited map: its label is unmapped, not Object's constructor.
    expect(mapLabel(corpusLabelMap('other', map), 'constructor')).toBeUndefined();
    expect(mergeLabelMaps(null, map).__proto__.__proto__).toBe('joyful');
    expect(mergeLabelMaps({ constructor: { x: 'sad' } }, map).constructor).toMatchObject({ x: 'sad', __proto__: 'fear' });
  });

  it('an unmapped __proto__ label is named as missing; once mapped, the pool builds and keeps the map', async () => {
    const sources = [{ format: 'jsonl' as const, data: file, name: '__proto__' }, { format: 'jsonl' as const, data: file, name: 'constructor' }];
    const partial = join(dir, 'partial.json');
    writeFileSync(partial, '{"constructor": {"constructor": "sad", "toString": "neutral", "hasOwnProperty": "mad", "valueOf": "fear"}}');
    expect(() => loadSources([sources[1]], { splits: ['train'], labelMap: readLabelMapFile(partial) })).toThrow(/constructor label "__proto__" \(10 utterances\) has no unified label/);

    const pool = loadSources(sources, { splits: ['train'], labelMap: readLabelMapFile(mapFile) });
    expect(pool.corpus).toBe('__proto__+constructor');
    const first = pool.dialogues.find((d) => d.corpus === '__proto__')!;
    expect(first.turns.map((t) => [t.sourceLabels![0], t.labels[0]])).toContainEqual(['__proto__', 'joyful']);
    const out = join(dir, 'pool');
    await buildIndex({
      dialogues: pool.dialogues, corpus: pool.corpus, splits: ['train'], embedder: hashEmbedder(), out, labels: ['joyful', 'sad', 'neutral', 'mad', 'excited', 'powerful', 'fear', 'peaceful', 'disgust'],
      provenance: { label_space: 'unified', label_map: pool.labelMap },
    });
    const manifest = readManifest(out);
    expect(Object.keys(manifest.label_map!).sort()).toEqual(['__proto__', 'constructor']);
    expect(manifest.label_map!.__proto__.__proto__).toBe('joyful');
    expect(manifest.label_map!['constructor' as string].__proto__).toBe('fear');
  });

  it('the CLI pools --source ...:__proto__ with a --label-map keyed by __proto__', () => {
    const out = join(dir, 'cli-pool');
    const built = cli(['build', '--source', `jsonl:${file}:__proto__`, '--source', `jsonl:${file}:constructor`, '--label-map', mapFile, '--projection', 'none', '--out', out]);
    expect(built.stderr).not.toMatch(/has no unified label/);
    expect(built.code).toBe(0);
    const r = cli(['query', '--index', out, '--corpus', '__proto__', '--labels', 'joyful', '-k', '3', 'proto build']);
    expect(r.code).toBe(0);
    const demos = JSON.parse(r.stdout).demonstrations as { label: string; source_label: string; corpus: string }[];
    expect(demos).toHaveLength(3);
    for (const d of demos) expect(d).toMatchObject({ label: 'joyful', source_label: '__proto__', corpus: '__proto__' });
  });
});
