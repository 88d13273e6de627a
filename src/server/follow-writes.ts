import type { DemoService } from '../service/service.js';

export interface FollowWritesOptions {
  /** The service answering now (a reload replaces it). */
  current: () => DemoService;
  /** How often to look (ERC_DEMOS_WRITES_POLL_MS). */
  pollMs: number;
  /** Per cent of an index's rows written past which a compaction is worth hinting (ERC_DEMOS_COMPACT_HINT_PERCENT). */
  hintPercent: number;
  /** Rows written (added or relabelled: scanned beside the graph) past which too (ERC_DEMOS_COMPACT_HINT_ROWS). */
  hintRows: number;
  /** Called with the indexes whose folder now holds another build (compacted, rebuilt): reopen them. */
  onRebuilt: (names: readonly string[]) => void;
  log: (message: string) => void;
}

/**
 * Keeps a serving process in step with the index folders it serves: every pollMs, the writes other processes made
 * (replicas on one volume, the CLI) are applied, so each replica answers with a write within about pollMs of its
 * acknowledgement; a folder that now holds another build is reported for a reopening; and once an index's written
 * share passes hintPercent (or its written rows hintRows), a line says a compaction would choose its space again. Returns the function that stops it.
 */
export function followWrites(o: FollowWritesOptions): () => void {
  const hinted = new Set<string>();
  let reported = false;
  const timer = setInterval(() => {
    const service = o.current();
    let rebuilt: string[];
    try {
      rebuilt = service.refreshWrites();
    } catch (error) {
      // A log that cannot be read now (a compaction swapping the folder): the next look tries again.
      if (!reported) o.log(`writes: could not apply other processes' writes yet: ${(error as Error).message}`);
      reported = true;
      return;
    }
    reported = false;
    if (rebuilt.length > 0) o.onRebuilt(rebuilt);
    for (const name of service.indexes.keys()) {
      const { share, added, relabelled } = service.writtenSummary(name);
      if ((share * 100 < o.hintPercent && added + relabelled < o.hintRows) || hinted.has(name)) continue;
      hinted.add(name);
      o.log(`index "${name}": ${(share * 100).toFixed(1)}% of its rows (${added} added, ${relabelled} relabelled) were written since its space was chosen, ` +
        'and every query scans the written ones exactly; `erc-demos compact --index <dir>` rebuilds it with them and chooses the space again ' +
        `(ERC_DEMOS_COMPACT_HINT_PERCENT=${o.hintPercent}, ERC_DEMOS_COMPACT_HINT_ROWS=${o.hintRows})`);
    }
  }, o.pollMs);
  timer.unref();
  return () => clearInterval(timer);
}
