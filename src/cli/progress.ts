import cliProgress from 'cli-progress';

export interface Progress {
  /** Progress of the current phase; a new `phase` (a label of its own) ends the previous one and starts counting anew. */
  update: (done: number, total: number, phase?: string) => void;
  stop: () => void;
}

/** Seconds between plain progress lines (not a terminal): often enough that no phase is silent for long. */
export const PLAIN_PROGRESS_EVERY_MS = 3000;

/**
 * Progress on stderr with items/s and ETA: a live bar on a terminal; elsewhere (CI, logs) a plain line when a
 * phase starts, at most every 3 s, and when it ends, so logs stay readable. `label` names the first phase (or the
 * only one); `labels` renames phases a caller reports by key (the build's `embedding` is `embedding (use-lite)`).
 */
export function progressBar(label: string, labels: Record<string, string> = {}): Progress {
  let phase: string | undefined;
  let started = performance.now();
  // Where the phase's count stood at its first report: a phase first reported part-way (after a first chunk) would
  // otherwise count that chunk as done in no time.
  let startedAt = 0;
  const rate = (done: number) => {
    const seconds = (performance.now() - started) / 1000;
    return seconds > 0 ? (done - startedAt) / seconds : 0;
  };
  const nameOf = (key: string | undefined) => (key === undefined ? label : (labels[key] ?? key));
  if (!process.stderr.isTTY) {
    let lastPrint = 0;
    let lastLine = '';
    return {
      update(done, total, key) {
        const name = nameOf(key);
        const now = performance.now();
        const newPhase = name !== phase;
        if (newPhase) {
          phase = name;
          started = now;
          startedAt = done;
        } else if (done < total && now - lastPrint < PLAIN_PROGRESS_EVERY_MS) return;
        const r = rate(done);
        const eta = done >= total ? '0s' : r > 0 ? `${Math.round((total - done) / r)}s` : '?';
        const line = `${name}: ${done}/${total} (${total > 0 ? Math.round((100 * done) / total) : 100}%) ${r.toFixed(0)}/s ETA ${eta}\n`;
        if (line === lastLine) return;
        lastPrint = now;
        lastLine = line;
        process.stderr.write(line);
      },
      stop() {},
    };
  }
  let bar: cliProgress.SingleBar | undefined;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    update(done, total, key) {
      const name = nameOf(key);
      if (name !== phase || !bar) {
        stop();
        phase = name;
        started = performance.now();
        startedAt = done;
        bar = new cliProgress.SingleBar(
          { format: `${name} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`, stream: process.stderr, hideCursor: false },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0, { rate: '0' });
      }
      bar.setTotal(total);
      bar.update(done, { rate: rate(done).toFixed(0) });
    },
    stop,
  };
}
