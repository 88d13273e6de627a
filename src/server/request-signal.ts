import type { Response } from 'express';

const signals = new WeakMap<Response, AbortSignal>();

/**
 * An AbortSignal that fires when the client goes away before its answer is complete, so the request's remaining
 * work (queued embedding, retrieval, streaming) stops instead of running for nobody. One per response.
 */
export function requestSignal(res: Response): AbortSignal {
  let signal = signals.get(res);
  if (!signal) {
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    signal = controller.signal;
    signals.set(res, signal);
  }
  return signal;
}
