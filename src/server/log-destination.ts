import { pino, type DestinationStream } from 'pino';

/** Bytes of log lines held before they are written at once, whatever the time (about 30 request lines). */
const BLOCK_BYTES = 8 * 1024;

/**
 * Where `serve` writes its JSON log lines: stdout, in blocks. A line written by itself cost the main thread a
 * system call per request (and woke whatever reads the pipe: a log collector on the same cores), about a tenth of
 * a GET's main-thread time in a CPU profile at concurrency 16 (issue 26). Lines are held until BLOCK_BYTES or
 * `flushMs` after the first of them, whichever comes first, and every line at level error or above is written at
 * once with those before it (createLogger's hook), as is everything held when the process exits. `flushMs` 0 writes
 * each line as made. A kill -9 can lose at most the last `flushMs` of request lines, never an error's line. pino's own
 * writer (sonic-boom, synchronous) does the writing: partial writes and a full pipe (EAGAIN) are its to retry.
 */
export class BlockLogDestination implements DestinationStream {
  private readonly out: ReturnType<typeof pino.destination>;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly flushMs: number, fd = 1) {
    this.out = pino.destination({ fd, sync: true, minLength: flushMs > 0 ? BLOCK_BYTES : 0 });
    if (flushMs > 0) process.once('exit', () => this.flush());
  }

  write(line: string): void {
    this.out.write(line);
    if (this.flushMs > 0 && !this.timer) this.timer = setTimeout(() => this.flush(), this.flushMs).unref();
  }

  /** Writes every line held now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.flushMs > 0) this.out.flush();
  }
}
