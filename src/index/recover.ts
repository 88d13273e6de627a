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

/**
 * Removes the `<out>.tmp-<pid>` files of writers whose process is gone (an export killed mid-write: its renamed
 * file never appeared); a file of a live process (another export to the same path, running now) is left alone.
 */
export function removeDeadTemporaries(out: string): void {
  const parent = dirname(out);
  const prefix = `${basename(out)}.tmp-`;
  if (!existsSync(parent)) return;
  for (const entry of readdirSync(parent, { withFileTypes: true })) {
    if (!entry.name.startsWith(prefix) || !entry.isFile()) continue;
    const pid = entry.name.slice(prefix.length);
    if (!/^\d+$/.test(pid) || processAlive(Number(pid))) continue;
    rmSync(join(parent, entry.name), { force: true });
  }
}
