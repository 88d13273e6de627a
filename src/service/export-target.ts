import { existsSync, lstatSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ExportRefusedError } from '../errors.js';

const refused = (out: string, reason: string) => new ExportRefusedError(out, `refusing to write --out ${out}: it ${reason}`);

/** What a path is, in words, for a refusal. */
function kindOf(stat: Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isFIFO()) return 'a named pipe';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Files an input path stands for (a file, or the files of a directory a few levels down): their identities. */
const INPUT_DEPTH = 3;
const INPUT_FILES_MAX = 100_000;

function inputFiles(path: string, found: Map<string, string>, depth = 0): void {
  if (found.size >= INPUT_FILES_MAX) return;
  let stat: Stats;
  try {
    stat = statSync(path);
  } catch {
    return; // an input that cannot be read fails where it is read, with its own message
  }
  if (stat.isFile()) found.set(`${stat.dev}:${stat.ino}`, path);
  else if (stat.isDirectory() && depth < INPUT_DEPTH) {
    let entries: string[];
    try {
      entries = readdirSync(path);
    } catch {
      return;
    }
    for (const entry of entries) inputFiles(join(path, entry), found, depth + 1);
  }
}

/**
 * Where an export writes, checked before any work. An export replaces its file atomically (a temporary file renamed
 * over it), which would turn whatever stands at the path into a regular file: so only a regular file, or nothing,
 * is replaced. A symbolic link is followed to the regular file it names (the link stays); a dangling link, a
 * directory, a device (`/dev/null`), a pipe or a socket is refused (`--out -` writes to standard output instead),
 * and so is any file among `inputs` (the corpus read, the index, a format file: an export over its own input would
 * destroy it), however it is reached (another path, a link, a hard link). Returns the path to replace.
 */
export function exportTarget(out: string, inputs: readonly string[] = []): string {
  if (out.trim() === '') throw refused(out, 'is empty; give a file path (or --out - for standard output)');
  let target = out;
  const link = lstatOrUndefined(out);
  if (link?.isSymbolicLink()) {
    if (!existsSync(out)) throw refused(out, 'is a symbolic link to nothing; give the file itself');
    target = realpathSync(out);
  }
  const stat = lstatOrUndefined(target);
  if (!stat) {
    const parent = dirname(resolve(target));
    const folder = lstatOrUndefined(parent) && statSync(parent);
    if (!folder || !folder.isDirectory()) throw refused(out, `is in ${parent}, which is not an existing directory`);
    return target;
  }
  if (!stat.isFile()) {
    throw refused(out, `is ${kindOf(stat)}; an export replaces its --out with a regular file, so give a file path (or --out - for standard output)`);
  }
  const ours = new Map<string, string>();
  for (const input of inputs) inputFiles(input, ours);
  const same = ours.get(`${stat.dev}:${stat.ino}`);
  if (same !== undefined) throw refused(out, `is ${same === out ? 'an input' : `the same file as ${same}`}, which this export reads; write the prompts elsewhere`);
  return target;
}

/** A file written beside an export (LLaMA-Factory's dataset_info entry): the same rules, named beside it. */
export function besideTarget(out: string, name: string, inputs: readonly string[] = []): string {
  return exportTarget(join(dirname(out), basename(name)), inputs);
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
