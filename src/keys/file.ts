import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputError, KeysFileError } from '../errors.js';

/**
 * The API keys file (`ERC_DEMOS_API_KEYS_FILE`, `serve --keys FILE`; docs/RELIABILITY.md#api-keys):
 *
 *   {"keys": [{"name": "trainer", "scope": "read", "sha256": "<hex of the key>"},
 *             {"name": "ops", "scope": "write", "key": "<the key itself>", "indexes": ["meld"], "rate": {"per_second": 20, "burst": 40}}]}
 *
 * A key is given as its SHA-256 (hex of the UTF-8 key) or as itself, which is hashed on load and not kept. Nothing
 * read from the file is ever put in an error message but names and positions: a key's value never is.
 */

export const SCOPES = ['read', 'write'] as const;
export type Scope = (typeof SCOPES)[number];

/** A key given as itself must have at least this many characters: 22 base64url characters hold 132 bits. */
export const MIN_KEY_CHARS = 22;

/** The bytes of a key `erc-demos keys new` makes: 256 bits, written as 43 base64url characters. */
export const NEW_KEY_BYTES = 32;

/** A key's name: it goes into the request log, so a plain word. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** What `Authorization: Bearer <key>` can carry (RFC 6750 b64token). */
const TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;

/** A per-key rate (requests per second, and the burst a client may spend at once), enforced by rate.ts. */
export interface KeyRate {
  readonly perSecond: number;
  readonly burst: number;
}

/** One key as the service keeps it: its SHA-256, never the key. */
export interface KeyEntry {
  readonly name: string;
  readonly scope: Scope;
  /** The 32 bytes of SHA-256 of the key (UTF-8). */
  readonly sha256: Buffer;
  /** The indexes the key may use; undefined: all. */
  readonly indexes?: ReadonlySet<string>;
  readonly rate?: KeyRate;
}

/** A message for a value of the wrong type only (an unknown field keeps zod's, which names it). */
const typeError = (message: string) => ({ error: (issue: { code?: string }) => (issue.code === 'invalid_type' ? message : undefined) });

const EntrySchema = z.strictObject({
  name: z.string({ error: 'must be a string' }).regex(NAME, 'must be 1 to 64 letters, digits, ".", "_", "@" or "-", beginning with a letter or digit'),
  scope: z.enum(SCOPES, { error: 'must be "read" or "write" (write includes read)' }),
  sha256: z.string({ error: 'must be a string' }).regex(/^[0-9a-fA-F]{64}$/, "must be the 64 hex digits of the key's SHA-256").optional(),
  // Checked by hand below, so that no message can quote it.
  key: z.unknown().optional(),
  indexes: z.array(z.string({ error: 'must be an index name' }).trim().min(1, 'must not be empty'), { error: 'must be a list of index names' })
    .min(1, 'must name at least one index (leave it out for all)').optional(),
  rate: z.strictObject({
    per_second: z.number({ error: 'must be a number' }).positive('must be above 0').finite(),
    burst: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1'),
  }, typeError('must be {"per_second": <number>, "burst": <whole number>}')).optional(),
}, typeError('must be an object {name, scope, sha256 or key, indexes?, rate?}'));

const FileSchema = z.strictObject({ keys: z.array(EntrySchema, { error: 'must be a list of keys' }) }, typeError('must be an object {"keys": [...]}'));

/** The SHA-256 of a key as the file and the lookup use it (of its UTF-8 bytes). */
export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Where in `text` a JSON.parse error points, as line:column, without quoting the text (it may hold keys). */
function jsonErrorAt(text: string, error: Error): string {
  const position = /position (\d+)/.exec(error.message);
  if (!position) return /end of JSON input/i.test(error.message) ? 'is not valid JSON (it ends too early)' : 'is not valid JSON';
  const before = text.slice(0, Number(position[1]));
  const line = before.split('\n').length;
  return `is not valid JSON (at line ${line}, column ${before.length - before.lastIndexOf('\n')})`;
}

/** Checks and reads the keys of a file's text (`file` only names it in errors). */
export function parseKeysFile(file: string, text: string): KeyEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new KeysFileError(file, jsonErrorAt(text, error as Error));
  }
  const parsed = FileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length ? issue.path.join('.') : 'the file';
    throw new KeysFileError(file, `${where}: ${issue.message}`);
  }
  const names = new Set<string>();
  const digests = new Map<string, string>();
  return parsed.data.keys.map((entry, i) => {
    const at = `keys.${i}`;
    if (entry.name === 'anonymous') throw new KeysFileError(file, `${at}.name: "anonymous" is how the logs and metrics name requests without a key; give the key another name`);
    if (names.has(entry.name)) throw new KeysFileError(file, `${at}.name: "${entry.name}" is the name of an earlier key; names must be unique (they name the key in the logs)`);
    names.add(entry.name);
    if ((entry.key === undefined) === (entry.sha256 === undefined)) {
      throw new KeysFileError(file, `${at}: give the key as "sha256" (its hash, which \`erc-demos keys new\` prints) or as "key" (the key itself), one of them`);
    }
    let sha256: Buffer;
    if (entry.key !== undefined) {
      const key = entry.key;
      if (typeof key !== 'string') throw new KeysFileError(file, `${at}.key: must be a string`);
      if (!TOKEN.test(key)) throw new KeysFileError(file, `${at}.key: must be letters, digits and - . _ ~ + / (then = signs), as Authorization: Bearer carries it`);
      if (key.length < MIN_KEY_CHARS) {
        throw new KeysFileError(file, `${at}.key: is ${key.length} characters; a key must have at least ${MIN_KEY_CHARS} (128 bits as base64url): make one with \`erc-demos keys new\``);
      }
      sha256 = keyDigest(key);
    } else {
      sha256 = Buffer.from(entry.sha256!.toLowerCase(), 'hex');
    }
    const hex = sha256.toString('hex');
    const twin = digests.get(hex);
    if (twin !== undefined) throw new KeysFileError(file, `${at}: is the same key as "${twin}"; each key must be different`);
    digests.set(hex, entry.name);
    return {
      name: entry.name,
      scope: entry.scope,
      sha256,
      ...(entry.indexes ? { indexes: new Set(entry.indexes) } : {}),
      ...(entry.rate ? { rate: { perSecond: entry.rate.per_second, burst: entry.rate.burst } } : {}),
    };
  });
}

/** Reads and checks a keys file: a KeysFileError naming the file and the field when it cannot be used. */
export function readKeysFile(file: string): KeyEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new KeysFileError(file, `cannot be read (${code === 'ENOENT' ? 'ENOENT: no such file' : (code ?? (error as Error).message)})`);
  }
  return parseKeysFile(file, text);
}

/** A new key (`erc-demos keys new`): 256 random bits as base64url, and its entry for the keys file (the hash, not the key). */
export function newKey(name: string, scope: Scope, indexes?: readonly string[]): { key: string; entry: { name: string; scope: Scope; sha256: string; indexes?: string[] } } {
  if (!NAME.test(name)) throw new InputError('name', 'must be 1 to 64 letters, digits, ".", "_", "@" or "-", beginning with a letter or digit');
  for (const index of indexes ?? []) {
    if (index.trim() === '' || index !== index.trim()) throw new InputError('index', `an index name must not be empty or begin or end with spaces (got ${JSON.stringify(index)})`);
  }
  const key = randomBytes(NEW_KEY_BYTES).toString('base64url');
  return { key, entry: { name, scope, sha256: keyDigest(key).toString('hex'), ...(indexes?.length ? { indexes: [...indexes] } : {}) } };
}
