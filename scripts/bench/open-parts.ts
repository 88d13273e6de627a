/**
 * What opening an index spends, each part timed by itself in a fresh process (run it once per part):
 *   node --import tsx scripts/bench/open-parts.ts --index <dir> --part hash|graph|rows|open
 * hash: the checksums of the index's files as the open computes them (verify-files.ts), each file's time as it is
 * done; graph: hnswlib's reader on hnsw.bin, as the open calls it; rows: every row read from meta.sqlite; open:
 * DemoIndex.open whole. Prints seconds since the start and RSS. Run it with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 and
 * without to see what transparent huge pages change (npm start and the image set it).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import hnswlib from 'hnswlib-node';
import { FILES } from '../../src/index/manifest.js';
import { DemoIndex, readManifest } from '../../src/index/open.js';
import { hashFiles } from '../../src/index/verify-files.js';

const { values } = parseArgs({ options: { index: { type: 'string' }, part: { type: 'string', default: 'open' } } });
if (!values.index) throw new Error('usage: open-parts.ts --index <dir> --part hash|graph|rows|open');
const dir = values.index;
const started = performance.now();
const lap = (what: string) => console.log(`${what}: ${((performance.now() - started) / 1000).toFixed(2)} s, RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB`);
const manifest = readManifest(dir);
if (values.part === 'hash') {
  const files = Object.keys(manifest.checksums);
  const sums = hashFiles(files.map((f) => join(dir, f)));
  for (const [i, sum] of sums.entries()) {
    await sum;
    lap(`hashed ${files[i]}`);
  }
} else if (values.part === 'graph') {
  const dim = manifest.projection?.dim_out ?? manifest.embedder.dim;
  new hnswlib.HierarchicalNSW('cosine', dim).readIndexSync(join(dir, FILES.hnsw));
  lap(`graph read (${manifest.count} rows)`);
} else if (values.part === 'rows') {
  const db = new Database(join(dir, FILES.meta), { readonly: true });
  let rows = 0;
  for (const _ of db.prepare('SELECT * FROM utterances ORDER BY id').iterate()) rows++;
  db.close();
  lap(`${rows} rows read`);
} else if (values.part === 'open') {
  const index = await DemoIndex.open(dir);
  lap(`DemoIndex.open (${index.rows.length} rows)`);
} else {
  throw new Error(`--part must be hash, graph, rows or open, got "${values.part}"`);
}
