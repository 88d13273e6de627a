import { setImmediate as nextTurn } from 'node:timers/promises';
import { CancelledError } from '../errors.js';

/** Main-thread work between two turns of the event loop, at most (a few ms keeps other requests' latency low). */
const SLICE_MS = 4;

/**
 * A pause to await between units of a long computation: it gives the event loop a turn once the current slice has
 * run SLICE_MS, and stops the computation (CancelledError) once the signal is aborted.
 */
export function yieldEvery(signal?: AbortSignal): () => Promise<void> {
  let sliceStart = performance.now();
  return async () => {
    if (performance.now() - sliceStart >= SLICE_MS) {
      await nextTurn();
      sliceStart = performance.now();
    }
    if (signal?.aborted) throw new CancelledError();
  };
}
