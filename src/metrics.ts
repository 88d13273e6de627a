/**
 * Classification metrics over gold/predicted label pairs, as sklearn computes them (percentages 0..100): a pure leaf,
 * used by the space's cross-validation (index/) and by evaluation (eval/).
 */
export interface LabelMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  accuracy: number;
  macro_f1: number;
  weighted_f1: number;
  per_label: LabelMetrics[];
}

const pct = (x: number) => Number((100 * x).toFixed(2));

/**
 * `labels` fixes the classes averaged over (macro-F1 over the gold label set, as sklearn does with labels=...);
 * weighted-F1 weights each label's F1 by its gold support.
 */
export function classificationReport(gold: readonly string[], predicted: readonly string[], labels: readonly string[]): ClassificationReport {
  if (gold.length !== predicted.length) throw new Error('gold and predicted differ in length');
  const tp = new Map<string, number>();
  const predCount = new Map<string, number>();
  const goldCount = new Map<string, number>();
  let correct = 0;
  gold.forEach((g, i) => {
    const p = predicted[i];
    goldCount.set(g, (goldCount.get(g) ?? 0) + 1);
    predCount.set(p, (predCount.get(p) ?? 0) + 1);
    if (g === p) {
      correct += 1;
      tp.set(g, (tp.get(g) ?? 0) + 1);
    }
  });
  const perLabel = labels.map((label) => {
    const t = tp.get(label) ?? 0;
    const precision = t / (predCount.get(label) || 1);
    const recall = t / (goldCount.get(label) || 1);
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support: goldCount.get(label) ?? 0 };
  });
  const total = gold.length || 1;
  return {
    accuracy: pct(correct / total),
    macro_f1: pct(perLabel.reduce((s, l) => s + l.f1, 0) / (perLabel.length || 1)),
    weighted_f1: pct(perLabel.reduce((s, l) => s + l.f1 * l.support, 0) / total),
    per_label: perLabel.map((l) => ({ ...l, precision: pct(l.precision), recall: pct(l.recall), f1: pct(l.f1) })),
  };
}

/**
 * How many approximate results are correct against the exact top-k: a result counts when it is in the exact set or
 * scores at least the exact k-th score (verbatim repeats tie, and any of them is a correct answer).
 */
export function tieAwareHits(approx: readonly { id: number; score: number }[], exact: readonly { id: number; score: number }[]): number {
  const exactIds = new Set(exact.map((h) => h.id));
  const kth = exact[exact.length - 1]?.score ?? -Infinity;
  return approx.filter((h) => exactIds.has(h.id) || h.score >= kth - 1e-5).length;
}

/** The similarity-weighted majority label of the neighbours (ties: the label met first, i.e. the closer one). */
export function weightedVote(neighbours: readonly { label: string | null; score: number }[]): string | null {
  const weight = new Map<string, number>();
  for (const n of neighbours) if (n.label !== null) weight.set(n.label, (weight.get(n.label) ?? 0) + n.score);
  let best: string | null = null;
  let bestWeight = -Infinity;
  for (const [label, w] of weight) {
    if (w > bestWeight) {
      best = label;
      bestWeight = w;
    }
  }
  return best;
}
