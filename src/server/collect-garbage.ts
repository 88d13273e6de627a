import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let fullCollection: (() => void) | undefined;

/**
 * V8's full garbage collection, run once a generation replaced by a SIGHUP reload is closed. A generation leaves
 * megabytes of objects (rows, maps, an app and its metrics) that V8 collects only when its heap next grows past its
 * limit, which it raises as it goes: 21 idle reloads of a MELD index left RSS 61 to 119 MB higher, heap 26 -> 58 MB
 * used and external memory 19 -> 39 MB, none of it reachable; with the collection, 22-23 MB. Reloads are rare, and a
 * collection of a heap this size takes tens of milliseconds of the main thread (at 1M rows more, beside the seconds
 * the reload's reading of the rows holds it anyway). `gc` is reached as Node's own tests do, by the flag set at run
 * time, once.
 */
export function collectGarbage(): void {
  if (!fullCollection) {
    setFlagsFromString('--expose-gc');
    fullCollection = runInNewContext('gc') as () => void;
  }
  fullCollection();
}
