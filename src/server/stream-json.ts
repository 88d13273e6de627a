import type { Response } from 'express';
import { CancelledError } from '../errors.js';
import { awaitingClient } from './http-server.js';

/**
 * Answers `{"<key>": [items...], ...tail}` at once: the status line, the headers and the opening go out before any
 * item is ready, then each item (JSON text) as the iterator yields it, waiting for the socket to drain when its
 * buffer is full, so a big answer is never held whole in memory and a client sees progress however long the work
 * takes. While it waits for the client to drain, the idle timeout runs (http-server.ts); while it waits for work,
 * it does not. The tail's fields (e.g. took_ms) are computed once every item has been written. Input errors must
 * be raised before this is called: a failure once the answer has begun (an embedder failure) can only end the
 * connection, which the client sees as an incomplete answer.
 */
export async function streamJsonObject(res: Response, key: string, jsonItems: AsyncIterator<string>, tail: () => Record<string, unknown>): Promise<void> {
  res.status(200).type('application/json');
  await write(res, `{${JSON.stringify(key)}:[`);
  for (let first = true; ; first = false) {
    const next = await jsonItems.next();
    if (next.done) break;
    await write(res, first ? next.value : `,${next.value}`);
  }
  const rest = JSON.stringify(tail()).slice(1);
  res.end(rest === '}' ? ']}' : `],${rest}`);
}

async function write(res: Response, chunk: string): Promise<void> {
  if (res.destroyed) throw new CancelledError();
  if (res.write(chunk)) return;
  // Until the socket drains, or closes (then the next write throws); both listeners go either way.
  const done = awaitingClient(res);
  await new Promise<void>((resolve) => {
    const drained = () => {
      res.off('drain', drained);
      res.off('close', drained);
      resolve();
    };
    res.on('drain', drained);
    res.on('close', drained);
  });
  done();
}
