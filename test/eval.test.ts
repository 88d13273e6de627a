import { describe, expect, it } from 'vitest';
import { classificationReport, weightedVote } from '../src/metrics.js';
import { fitLda } from '../src/embed/lda.js';
import { project, projectedDim } from '../src/embed/projection.js';
import type { IndexedRow } from '../src/index/rows.js';
import { mergeHits, plannedSearches } from '../src/retrieve/select.js';

describe('metrics', () => {
  it('weighted-F1, macro-F1 and accuracy as sklearn defines them (worked by hand)', () => {
    // gold a a a b b c ; pred a a b b c c
    // a: P 2/2 R 2/3 F1 0.8 ; b: P 1/2 R 1/2 F1 0.5 ; c: P 1/2 R 1/1 F1 2/3
    const r = classificationReport(['a', 'a', 'a', 'b', 'b', 'c'], ['a', 'a', 'b', 'b', 'c', 'c'], ['a', 'b', 'c']);
    expect(r.accuracy).toBe(66.67);
    expect(r.macro_f1).toBe(65.56); // (0.8 + 0.5 + 0.6667) / 3
    expect(r.weighted_f1).toBe(67.78); // (3*0.8 + 2*0.5 + 1*0.6667) / 6
    expect(r.per_label[0]).toEqual({ label: 'a', precision: 100, recall: 66.67, f1: 80, support: 3 });
  });

  it('similarity-weighted vote', () => {
    expect(weightedVote([{ label: 'x', score: 0.9 }, { label: 'y', score: 0.5 }, { label: 'y', score: 0.45 }])).toBe('y');
    expect(weightedVote([{ label: 'x', score: 0.9 }, { label: 'y', score: 0.5 }])).toBe('x');
    expect(weightedVote([])).toBeNull();
  });
});

describe('LDA projection', () => {
  // Two classes that differ along dimension 0 only, buried in larger noise on the other dimensions.
  let seed = 7;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
  const vectors: Float32Array[] = [];
  const labels: string[] = [];
  for (let i = 0; i < 400; i++) {
    const label = i % 2 === 0 ? 'pos' : 'neg';
    const v = Float32Array.from({ length: 8 }, (_, d) => (d === 0 ? (label === 'pos' ? 0.3 : -0.3) + 0.1 * rand() : 2 * rand()));
    vectors.push(v);
    labels.push(label);
  }

  it('finds the discriminating direction: projected same-class pairs are closer than cross-class pairs', () => {
    const p = fitLda(vectors, labels, 0.1);
    expect(p.dimOut).toBe(1);
    expect(projectedDim(p)).toBe(1);
    const z = vectors.map((v) => project(p, v)[0]);
    const correct = z.filter((x, i) => Math.sign(x) === Math.sign(z[0]) === (labels[i] === labels[0])).length;
    expect(correct / z.length).toBeGreaterThan(0.98);
  });

  it('blend keeps the raw vector beside the LDA part, with unit length', () => {
    const p = fitLda(vectors, labels, 0.1, 0.4);
    const out = project(p, vectors[0]);
    expect(out.length).toBe(9);
    expect(out.reduce((s, x) => s + x * x, 0)).toBeCloseTo(1, 5);
    expect(() => fitLda(vectors, vectors.map(() => 'one'))).toThrow('LDA needs at least two labels');
  });
});

describe('dedup of repeated texts', () => {
  const row = (id: number, text: string, label: string): IndexedRow => ({ id, corpus: 'meld', split: 'train', dialogue: `train/${id}`, turn: 0, speaker: 'A', text, labels: [label], sourceLabels: [label], sourceId: null });
  const rows = [row(0, 'Okay.', 'neutral'), row(1, 'okay', 'neutral'), row(2, 'Okay!', 'joy'), row(3, 'Fine, okay.', 'neutral'), row(4, 'No!', 'anger')];
  const hits = [{ id: 0, score: 0.9 }, { id: 1, score: 0.89 }, { id: 2, score: 0.88 }, { id: 3, score: 0.7 }, { id: 4, score: 0.5 }];

  it('keeps the best of each text (case, spacing and punctuation aside) and still returns k', () => {
    expect(mergeHits([hits], rows, { k: 3, dedup: true }).map((d) => d.id)).toEqual([0, 3, 4]);
    expect(mergeHits([hits], rows, { k: 3 }).map((d) => d.id)).toEqual([0, 1, 2, 3, 4]);
  });

  it('plans a deeper search to make up for what it drops', () => {
    expect(plannedSearches({ k: 5, strategy: 'topk', dedup: true }, [])[0].k).toBe(20);
    expect(plannedSearches({ k: 5, strategy: 'topk' }, [])[0].k).toBe(5);
  });
});
