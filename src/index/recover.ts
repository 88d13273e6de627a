import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Cleans up after builds whose process is gone (killed mid-build): their half-built directories are removed, and
 * an old index moved aside just before the final rename is put back where it was.
 */
export function recoverInterruptedBuilds(out: string): void {
  const parent = dirname(out);
  const prefix = `${basename(out)}.tmp-`;
  if (!existsSync(parent)) return;
  for (const entry of readdirSync(parent)) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length).split('-')[0]);
    if (processAlive(pid)) continue;
    const path = join(parent, entry);
    if (entry.endsWith('-old') && !existsSync(out)) renameSync(path, out);
    else rmSync(path, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

