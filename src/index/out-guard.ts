import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OutputRefusedError } from '../errors.js';
import { FILES } from './manifest.js';

/**
 * A build may write `out` only where it owns it: nothing there, an empty directory, or an index of ours (a directory
 * holding our manifest), which is replaced atomically. Anything else (a user's folder, a file, a link) is refused
 * before any work, since the swap at the end of a build deletes what was there.
 */
export function assertBuildableOut(out: string): void {
  if (!existsSync(out) && !isLink(out)) return;
  const stat = lstatSync(out);
  if (stat.isSymbolicLink()) throw new OutputRefusedError(out, 'is a symbolic link; give the real directory');
  if (!stat.isDirectory()) throw new OutputRefusedError(out, 'is a file, not an index directory');
  const entries = readdirSync(out);
  if (entries.length === 0) return;
  if (!entries.includes(FILES.manifest) || !lstatSync(join(out, FILES.manifest)).isFile()) {
    const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? `, ... (${entries.length} entries)` : '');
    throw new OutputRefusedError(out, `exists and is not an erc-demos index (no ${FILES.manifest}; it holds ${shown}); a build replaces its --out, so give a new or empty directory, or an index's`);
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
