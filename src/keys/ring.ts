import { timingSafeEqual } from 'node:crypto';
import { keyDigest, readKeysFile, type KeyEntry } from './file.js';

/**
 * The keys a service accepts, looked up in constant time: the presented key is hashed (SHA-256), and its digest is
 * compared with every entry's digest by crypto.timingSafeEqual, all of them, whichever matches: how long a lookup
 * takes depends on the number of keys, never on how much of a wrong key is right. (Comparing digests, not keys, also
 * means a key's length and bytes never meet a comparison.)
 */
export class KeyRing {
  constructor(readonly entries: readonly KeyEntry[]) {}

  /** The entry of a presented key, or undefined. */
  find(presented: string): KeyEntry | undefined {
    const digest = keyDigest(presented);
    let found: KeyEntry | undefined;
    for (const entry of this.entries) {
      // Every entry is compared (no early exit); the digests are unique, so at most one matches.
      if (timingSafeEqual(digest, entry.sha256)) found = entry;
    }
    return found;
  }

  /** The names and scopes, for the start and reload messages (never a key or hash). */
  describe(): string {
    if (this.entries.length === 0) return 'no keys (every request but /healthz is refused)';
    return `${this.entries.length} key${this.entries.length === 1 ? '' : 's'}: ` +
      this.entries.map((e) => `${e.name} (${e.scope}${e.indexes ? `, indexes ${[...e.indexes].join(', ')}` : ''})`).join(', ');
  }
}

/** How a service answers who may do what: its keys (from a file, reread on SIGHUP) and its choices. */
export interface AccessOptions {
  /** The keys file; undefined: no keys, every request is anonymous. */
  file?: string;
  /** With keys: a request without Authorization may still read (ERC_DEMOS_ALLOW_ANONYMOUS=1, `--allow-anonymous`). */
  allowAnonymous?: boolean;
  /** With keys: /metrics answers without one (ERC_DEMOS_METRICS_PUBLIC=1). */
  metricsPublic?: boolean;
}

/**
 * The access state a running service reads on each request (the auth middleware holds this object, not a copy of
 * the keys): its keys file's keys, replaced as a whole by reload() (SIGHUP) only when the file reads and checks.
 */
export class ApiKeys {
  private current: KeyRing | undefined;
  readonly file: string | undefined;
  readonly allowAnonymous: boolean;
  readonly metricsPublic: boolean;

  /** Reads the keys file, if any (a KeysFileError when it cannot be used). */
  constructor(options: AccessOptions = {}) {
    this.file = options.file;
    this.allowAnonymous = options.allowAnonymous ?? false;
    this.metricsPublic = options.metricsPublic ?? false;
    this.current = this.file === undefined ? undefined : new KeyRing(readKeysFile(this.file));
  }

  /** The keys now; undefined when the service has none (open). */
  get ring(): KeyRing | undefined {
    return this.current;
  }

  /**
   * Rereads the keys file: on success its keys replace the old ones for every request from now on (a key removed
   * from the file is refused at once); on failure (a KeysFileError) the old keys stay. No-op without a file.
   */
  reload(): KeyRing | undefined {
    if (this.file === undefined) return undefined;
    this.current = new KeyRing(readKeysFile(this.file));
    return this.current;
  }
}
