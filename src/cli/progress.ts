import cliProgress from 'cli-progress';

export interface Progress {
  update: (done: number, total: number) => void;
  stop: () => void;
}

/**
 * Progress on stderr with items/s and ETA: a live bar on a terminal; elsewhere (CI, logs) a plain line at most
 * every 5 s and at the end, so logs stay readable.
 */
export function progressBar(label: string): Progress {
  const started = performance.now();
  const rate = (done: number) => {
    const seconds = (performance.now() - started) / 1000;
    return seconds > 0 ? done / seconds : 0;
  };
  if (!process.stderr.isTTY) {
    let lastPrint = 0;
    return {
      update(done, total) {
        const now = performance.now();
        if (done < total && now - lastPrint < 5000) return;
        lastPrint = now;
        const r = rate(done);
        const eta = r > 0 ? Math.round((total - done) / r) : 0;
        process.stderr.write(`${label}: ${done}/${total} (${Math.round((100 * done) / total)}%) ${r.toFixed(0)}/s ETA ${eta}s\n`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let running = false;
  return {
    update(done, total) {
      if (!running) {
        bar.start(total, 0, { rate: '0' });
        running = true;
      }
      bar.update(done, { rate: rate(done).toFixed(0) });
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}
