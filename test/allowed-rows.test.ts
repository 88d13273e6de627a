import { describe, expect, it } from 'vitest';
import { AllowedRowsCache, excludedRows, lessExcluded } from '../src/index/allowed-rows.js';
import { rowMatches, type IndexedRow, type RowFilter } from '../src/index/rows.js';
import { planPerLabel, type PerLabelSpace, type SelectionOptions } from '../src/retrieve/select.js';

/** 1,000 rows over four labels as skewed as emotions are (a few rows with two), two splits, two corpora, ten dialogues. */
const LABELS = ['neutral', 'joy', 'anger', 'fear'];
const labelOf = (id: number) => (id % 2 === 0 ? 0 : id % 4 === 1 ? 1 : id % 8 === 3 ? 2 : 3);
const rows: IndexedRow[] = Array.from({ length: 1000 }, (_, id) => {
  const labels = id % 11 === 0 ? [LABELS[labelOf(id)], LABELS[(labelOf(id) + 1) % 4]] : [LABELS[labelOf(id)]];
  return {
    id, corpus: id % 7 === 0 ? 'emorynlp' : 'meld', split: id % 3 === 0 ? 'dev' : 'train', dialogue: `d${id % 10}`, turn: Math.floor(id / 10),
    speaker: 'A', text: `utterance ${id}`, labels, sourceLabels: labels, sourceId: null, ...(id === 500 ? { removed: true } : {}),
  };
});
const byDialogue = (dialogue: string) => rows.filter((r) => r.dialogue === dialogue).map((r) => r.id);
/** What a search over `filter` allowed before the cache: one pass over the rows. */
const passOver = (filter: RowFilter) => rows.filter((row) => rowMatches(row, filter)).map((row) => row.id);

describe('the rows a filter allows, remembered per filter', () => {
  const filters: RowFilter[] = [
    { labels: new Set(['fear']) },
    { labels: new Set(['joy', 'anger']), splits: new Set(['train']) },
    { corpora: new Set(['emorynlp']) },
    { labels: new Set(['neutral']), excludeDialogues: new Set(['d3', 'd4']) },
    { labels: new Set(['anger']), excludeIds: new Set([2, 6, 10, 999, 5000]) },
    { labels: new Set(['joy']), splits: new Set(['dev']), corpora: new Set(['meld']), excludeIds: new Set([1]), excludeDialogues: new Set(['d9']) },
    { labels: new Set<string>() },
  ];

  it('allows, less what is excluded, exactly the rows one pass over them does', () => {
    const cache = new AllowedRowsCache(rows, 1 << 20);
    for (const filter of filters) {
      const expected = passOver(filter);
      const allowed = lessExcluded(cache.of(filter), excludedRows(filter, byDialogue));
      expect(allowed.count).toBe(expected.length);
      expect(allowed.ids()).toEqual(expected);
      expect(rows.filter((r) => allowed.allows(r.id)).map((r) => r.id)).toEqual(expected);
    }
  });

  it('keeps one entry per filter whatever the order of its sets, telling an absent set from an empty one', () => {
    const cache = new AllowedRowsCache(rows, 1 << 20);
    const a = cache.of({ labels: new Set(['joy', 'anger']), splits: new Set(['train']) });
    expect(cache.of({ splits: new Set(['train']), labels: new Set(['anger', 'joy']) })).toBe(a);
    // Exclusions are the caller's: the same entry serves every exclusion.
    expect(cache.of({ labels: new Set(['joy', 'anger']), splits: new Set(['train']), excludeIds: new Set([4]) })).toBe(a);
    expect(cache.of({ labels: new Set<string>() }).ids).toEqual([]);
    // Every row but the removed one.
    expect(cache.of({}).ids).toHaveLength(rows.length - 1);
  });

  it('stays within its budget: least recently used out first, an entry larger than the budget never kept', () => {
    // An entry costs a byte a row and 8 an allowed id.
    const size = (filter: RowFilter) => rows.length + 8 * passOver(filter).length;
    const [fear, anger, fearDev] = [{ labels: new Set(['fear']) }, { labels: new Set(['anger']) }, { labels: new Set(['fear']), splits: new Set(['dev']) }];
    expect(size(fear) + size(fearDev)).toBeLessThanOrEqual(size(fear) + size(anger));
    const cache = new AllowedRowsCache(rows, size(fear) + size(anger));
    const [fearRows, angerRows] = [cache.of(fear), cache.of(anger)];
    expect(cache.of(fear)).toBe(fearRows);
    expect(cache.of(anger)).toBe(angerRows);
    expect(cache.of(fear)).toBe(fearRows);
    // Over budget: anger, the least recently used, leaves.
    const fearDevRows = cache.of(fearDev);
    expect(cache.of(fear)).toBe(fearRows);
    expect(cache.of(fearDev)).toBe(fearDevRows);
    expect(cache.of(anger)).not.toBe(angerRows);
    expect(cache.of(anger).ids).toEqual(angerRows.ids);
    const none = new AllowedRowsCache(rows, 0);
    const first = none.of(fear);
    expect(none.of(fear)).not.toBe(first);
    expect(none.of(fear).ids).toEqual(first.ids);
  });
});

describe('a per-label plan from the remembered rows', () => {
  it('is the plan one pass over the rows makes, with every kind of filter', () => {
    const cache = new AllowedRowsCache(rows, 1 << 20);
    // 200 rows at most for an exact scan: some labels scanned, some searched, by the filters below.
    const passing: PerLabelSpace = { rows, labels: LABELS, exactMaxRows: 200 };
    const remembering: PerLabelSpace = { ...passing, filteredRows: (filter) => lessExcluded(cache.of(filter), excludedRows(filter, byDialogue)) };
    const selections: SelectionOptions[] = [
      { k: 2, strategy: 'per-label' },
      { k: 3, strategy: 'per-label', labels: ['fear', 'joy'] },
      { k: 2, strategy: 'per-label', splits: ['dev'] },
      { k: 2, strategy: 'per-label', splits: ['dev'], corpora: ['emorynlp'] },
      { k: 2, strategy: 'per-label', excludeDialogues: ['d1', 'd2', 'd3'], dedup: true },
      { k: 1, strategy: 'per-label', labels: ['anger', 'anger', 'neutral'], corpora: ['emorynlp'], excludeDialogues: ['d0'] },
      { k: 1, strategy: 'per-label', corpora: ['none such'] },
    ];
    let scannedAndSearched = 0;
    for (const options of selections) {
      const plan = planPerLabel(options, remembering);
      expect(plan).toEqual(planPerLabel(options, passing));
      if (plan.scanned.length > 0 && plan.searches.length > 0) scannedAndSearched += 1;
    }
    expect(scannedAndSearched).toBeGreaterThan(0);
  });
});
