import type { Response } from 'express';
import { CancelledError } from '../errors.js';

/**
 * Answers `{"<key>": [items...], ...tail}` item by item as the iterator yields them, waiting for the socket to
 * drain when its buffer is full, so a big answer is never held whole in memory. The first item is awaited before
 * the status line goes out: an error up to then (a bad input, an embedder failure) still gets a JSON error answer.
 * The tail's fields (e.g. took_ms) are computed once every item has been written.
 */
export async function streamJsonObject<T>(res: Response, key: string, items: AsyncIterator<T>, tail: () => Record<string, unknown>): Promise<void> {
  let next = await items.next();
  res.status(200).type('application/json');
  await write(res, `{${JSON.stringify(key)}:[`);
  for (let first = true; !next.done; first = false) {
    await write(res, (first ? '' : ',') + JSON.stringify(next.value));
    next = await items.next();
  }
  const rest = JSON.stringify(tail()).slice(1);
  res.end(rest === '}' ? ']}' : `],${rest}`);
}

async function write(res: Response, chunk: string): Promise<void> {
  if (res.destroyed) throw new CancelledError();
  if (res.write(chunk)) return;
  // Until the socket drains, or closes (then the next write throws); both listeners go either way.
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
