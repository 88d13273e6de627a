/**
 * Serving memory and queries, one checkout against another on the same index (issue 26, item 4):
 *   npx tsx scripts/bench/serving-memory.ts --index <dir> [--checkout <root> ...] [--queries 1000] [--rounds 2]
 * For each checkout in turn (this one by default; give an earlier one, e.g. `git archive` of a commit with
 * node_modules linked, to compare), `--rounds` times alternating, a child process opens the index with that
 * checkout's DemoIndex (open time, RSS before and after), embeds `--queries` distinct MELD test utterances, and times
 * them through topk (k=8), per-label (k=2), mmr (k=5), a narrow label filter (fear, disgust; k=5) and 200 training
 * rows in their folds' spaces (k=8, as an export searches them), twice: the first pass reads what it needs (cold
 * caches), the second is timed again. Prints one JSON line per child and a table of medians.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    index: { type: 'string' },
    checkout: { type: 'string', multiple: true },
    queries: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '2' },
    data: { type: 'string', default: '../shared/data' },
    child: { type: 'boolean', default: false },
    texts: { type: 'string' },
  },
});
const here = resolve(import.meta.dirname, '..', '..');

interface ChildResult {
  checkout: string;
  open_ms: number;
  rss_before_mb: number;
  rss_open_mb: number;
  rss_end_mb: number;
  /** Mean microseconds per query, by strategy: [first pass, second pass]. */
  us: Record<string, [number, number]>;
}

const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);

async function child(root: string, indexDir: string, textsFile: string): Promise<ChildResult> {
  type OpenModule = typeof import('../../src/index/open.js');
  type RetrieveModule = typeof import('../../src/retrieve/retrieve.js');
  type CreateModule = typeof import('../../src/embed/create.js');
  const { DemoIndex } = (await import(join(root, 'src/index/open.ts'))) as OpenModule;
  const { retrieve } = (await import(join(root, 'src/retrieve/retrieve.ts'))) as RetrieveModule;
  const { createEmbedder } = (await import(join(root, 'src/embed/create.ts'))) as CreateModule;
  const rssBefore = rssMb();
  const started = performance.now();
  const index = await DemoIndex.open(indexDir);
  const openMs = Math.round(performance.now() - started);
  const rssOpen = rssMb();
  const embedder = await createEmbedder('use-lite');
  const texts = JSON.parse(readFileSync(textsFile, 'utf8')) as string[];
  const queries = (await embedder.embed(texts)).map((v) => index.queryVector(v));
  await embedder.close?.();
  const labels = index.labels.filter((l) => ['fear', 'disgust', 'scared', 'mad'].includes(l)).slice(0, 2);
  const strategies = {
    topk: { k: 8, strategy: 'topk' as const },
    'per-label': { k: 2, strategy: 'per-label' as const },
    mmr: { k: 5, strategy: 'mmr' as const },
    'label filter': { k: 5, strategy: 'topk' as const, labels },
  };
  const step = Math.max(1, Math.floor(index.rows.length / 200));
  const training = Array.from({ length: Math.min(200, index.rows.length) }, (_, i) => index.rows[i * step]);
  const us: Record<string, [number, number]> = {};
  for (let pass = 0; pass < 2; pass++) {
    for (const [name, options] of Object.entries(strategies)) {
      const t = performance.now();
      for (const q of queries) retrieve(index, q, options);
      (us[name] ??= [0, 0])[pass] = Math.round(((performance.now() - t) * 1000) / queries.length);
    }
    if (index.crossFitted) {
      const t = performance.now();
      for (const row of training) {
        const space = index.space(row.dialogue);
        retrieve(space, space.vector(row.id), { k: 8, strategy: 'topk', excludeDialogues: [row.dialogue] });
      }
      (us['cross-fitted'] ??= [0, 0])[pass] = Math.round(((performance.now() - t) * 1000) / training.length);
    }
  }
  return { checkout: root, open_ms: openMs, rss_before_mb: rssBefore, rss_open_mb: rssOpen, rss_end_mb: rssMb(), us };
}

if (values.child) {
  console.log(JSON.stringify(await child(resolve(values.checkout![0]), resolve(values.index!), values.texts!)));
} else {
  if (!values.index) throw new Error('--index <dir> is required');
  const { loadCorpus } = await import('../../src/corpus/load.js');
  const meld = loadCorpus({ format: 'meld', data: join(values.data!, 'meld'), splits: ['test'] }).dialogues;
  const texts = [...new Set(meld.flatMap((d) => d.turns.map((t) => t.text)))].slice(0, Number(values.queries));
  const textsFile = join(mkdtempSync(join(tmpdir(), 'serving-memory-')), 'texts.json');
  writeFileSync(textsFile, JSON.stringify(texts));
  const checkouts = (values.checkout ?? [here]).map((c) => resolve(c));
  const results = new Map<string, ChildResult[]>();
  for (let round = 0; round < Number(values.rounds); round++) {
    // Alternating which goes first, so that both see the machine's load alike.
    const order = round % 2 === 0 ? checkouts : [...checkouts].reverse();
    for (const root of order) {
      const run = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'scripts/bench/serving-memory.ts'), '--child', '--checkout', root, '--index', values.index, '--texts', textsFile],
        { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
      if (run.status !== 0) throw new Error(`child for ${root} failed: ${run.stderr.slice(-2000)}`);
      const line = run.stdout.trim().split('\n').at(-1)!;
      console.log(line);
      const list = results.get(root) ?? [];
      list.push(JSON.parse(line) as ChildResult);
      results.set(root, list);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  for (const [root, runs] of results) {
    const names = Object.keys(runs[0].us);
    console.error(`${root}: open ${median(runs.map((r) => r.open_ms))} ms, RSS +${median(runs.map((r) => r.rss_open_mb - r.rss_before_mb))} MB at open, ${median(runs.map((r) => r.rss_end_mb))} MB at the end; ` +
      names.map((n) => `${n} ${median(runs.map((r) => r.us[n][0]))}/${median(runs.map((r) => r.us[n][1]))} us`).join(', '));
  }
}
