import { z } from 'zod';
import { SettingError } from './errors.js';
import { numberFromText, readNumber } from './numbers.js';

/**
 * Every limit and timeout of the service, each a setting with a documented default (README, docs/RELIABILITY.md),
 * read from the environment once at start. A bad value stops the start with a message naming the variable. A number
 * is read by the one rule of src/numbers.ts: plain digits, so a variable set to nothing, to blanks, to `0x10` or `1e3`
 * is refused rather than read as 0 or guessed.
 */
const SETTINGS = {
  // Embedder scheduling (src/embed/scheduler.ts).
  embedCallChars: { env: 'ERC_DEMOS_EMBED_CALL_CHARS', default: 3072, min: 1, doc: 'characters in one embedder call when serving, at most (one longer sentence goes alone): bounds how long a single query waits behind a batch' },
  embedCallItems: { env: 'ERC_DEMOS_EMBED_CALL_ITEMS', default: 8, min: 1, doc: 'sentences in one embedder call when serving, at most: a query waits for the call in flight, then its own call, each at most this many sentences (USE-lite on a 2-core machine: ~1 ms each, the same per sentence from 8 up to 32 in a call)' },
  maxWorkersPerRequest: { env: 'ERC_DEMOS_MAX_WORKERS_PER_REQUEST', default: 0, min: 0, doc: 'embedder threads one request may hold at once when serving; 0: all but one (at least one)' },
  // Query vectors kept per embedder (src/embed/query-cache.ts).
  embedCacheMb: { env: 'ERC_DEMOS_EMBED_CACHE_MB', default: 32, min: 0, doc: 'megabytes of query vectors kept per embedder model, least recently used out (vector, text and bookkeeping counted: about 12,500 short utterances at 512 dims), so a repeated utterance is not embedded again (serve, the CLI and the library; never a build); 0: off' },
  // What an embedder reads of one text (src/embed/text-cap.ts), at build, query, eval and export alike.
  maxEmbedChars: { env: 'ERC_DEMOS_MAX_EMBED_CHARS', default: 10_000, min: 1, doc: 'characters of one text the embedder reads, at build and query alike: a longer utterance is embedded from its first this many characters (the build counts and lists them, the index stores them whole); the models read 128 (USE-lite) to 512 tokens, which ordinary text fills well before this, so it bounds the work without changing such vectors' },
  // Building and searching an index (src/index/choose-space.ts, src/index/fold-space.ts).
  cvHeldOutRows: { env: 'ERC_DEMOS_CV_HELD_OUT_ROWS', default: 2500, min: 0, doc: 'held-out utterances each fold of the build\'s cross-validation (choosing the space) scores against all of its training rows, at most: a larger fold is scored on a sample stratified by label (and corpus, in a pooled index), so the cost grows linearly with the corpus; MELD\'s and EmoryNLP\'s folds (about 2000 and 1500) are scored whole; 0: every row (quadratic)' },
  spaceFitRows: { env: 'ERC_DEMOS_SPACE_FIT_ROWS', default: 20_000, min: 0, doc: 'utterances the build chooses and fits its space on, at most: a larger corpus is represented by a seeded sample of whole dialogues of about this many utterances, embedded first, so the graph is built while the rest embeds and choosing the space costs the same at 100k or 1M; 0: every utterance (the graph then waits for the choice)' },
  crossFitEf: { env: 'ERC_DEMOS_CROSS_FIT_EF', default: 64, min: 1, doc: 'beam width of a cross-fitted search (a training utterance searched in its fold\'s space): the walk over the index\'s HNSW graph keeps this many rows (at least k), as HNSW\'s ef; larger finds more of the exact fold search\'s neighbours at more cost; an index of at most 2000 rows is scanned exactly' },
  vectorCacheMb: { env: 'ERC_DEMOS_VECTOR_CACHE_MB', default: 256, min: 0, doc: 'megabytes of an index\'s searched vectors kept in the heap once read (they are read from vectors.f32 by position as exact scans, re-scoring, MMR and cross-fitted walks need them, the rest left to the page cache; the graph keeps its own copy for its search); 0 keeps only the last two rows read; `prompts` and `eval`, which read many rows of a split, keep every vector they read unless this is set' },
  filterCacheMb: { env: 'ERC_DEMOS_FILTER_CACHE_MB', default: 32, min: 0, doc: 'megabytes of an index\'s row sets kept per filter (labels, splits, corpora: about 9 bytes a row allowed and 1 a row of the index), so a label-filtered search and each large label of a per-label selection do not pass over every row first (at 1M rows a top-k under one label 150 -> 5 ms, a per-label query 1.6 s -> 0.1 s); least recently used first out; 0 keeps none' },
  // Work per request (src/service/limits.ts).
  maxBatchQueries: { env: 'ERC_DEMOS_MAX_BATCH_QUERIES', default: 1000, min: 1, doc: 'queries in one POST /demonstrations' },
  maxRequestChars: { env: 'ERC_DEMOS_MAX_REQUEST_CHARS', default: 200_000, min: 1, doc: 'characters to embed or render in one request: the utterances of a batch, the turns of a prompt dialogue' },
  maxDemonstrations: { env: 'ERC_DEMOS_MAX_DEMONSTRATIONS', default: 10_000, min: 1, doc: 'demonstrations one request may ask for: the sum over its queries of k x labels searched (per-label) or k (topk)' },
  maxListItems: { env: 'ERC_DEMOS_MAX_LIST_ITEMS', default: 100, min: 1, doc: 'items in one list parameter (labels, split, exclude_dialogue)' },
  maxPromptChars: { env: 'ERC_DEMOS_MAX_PROMPT_CHARS', default: 200_000, min: 1, doc: 'characters of one rendered prompt (template, history window and demonstrations together)' },
  maxBodyBytes: { env: 'ERC_DEMOS_MAX_BODY_BYTES', default: 5 * 1024 * 1024, min: 1, doc: 'bytes of a request body (413 beyond; a Content-Length over it gets its 413 before any byte of the body is read, and with `Expect: 100-continue` no "100 Continue")' },
  // HTTP (src/server/http-server.ts, src/server/shutdown.ts).
  maxHeaderBytes: { env: 'ERC_DEMOS_MAX_HEADER_BYTES', default: 64 * 1024, min: 1024, doc: 'bytes of the request line and headers (a 2000-character utterance in any script fits in a GET); JSON 431 beyond' },
  headersTimeoutMs: { env: 'ERC_DEMOS_HEADERS_TIMEOUT_MS', default: 10_000, min: 1, doc: 'time to receive a request\'s headers (408 after); a connection that sends nothing at all is closed after it too' },
  requestTimeoutMs: { env: 'ERC_DEMOS_REQUEST_TIMEOUT_MS', default: 30_000, min: 1, doc: 'time to receive a whole request, body included (408 after)' },
  keepAliveTimeoutMs: { env: 'ERC_DEMOS_KEEP_ALIVE_TIMEOUT_MS', default: 5_000, min: 1, doc: 'an idle keep-alive connection is closed after this' },
  socketTimeoutMs: { env: 'ERC_DEMOS_SOCKET_TIMEOUT_MS', default: 60_000, min: 1, doc: 'a connection whose client keeps the server waiting (an answer, or a streamed part of one, left unread) is closed after this much silence; never counted while the server works on a request' },
  maxConnections: { env: 'ERC_DEMOS_MAX_CONNECTIONS', default: 1024, min: 1, doc: 'open connections, at most: past it, the client (address) holding the most connections gives up its oldest with nothing under way (silent, trickling its headers, idle keep-alive); the newcomer is closed only when every connection is being answered' },
  // Writes to a live index (src/writes/, src/service/writes.ts).
  maxWriteUtterances: { env: 'ERC_DEMOS_MAX_WRITE_UTTERANCES', default: 10_000, min: 1, doc: 'utterances one write may add (POST /indexes/{name}/dialogues, `erc-demos add`): the turns of all its dialogues' },
  writeCallItems: { env: 'ERC_DEMOS_WRITE_CALL_ITEMS', default: 2, min: 1, doc: 'sentences of a write in one embedder call when serving: a query arriving while a write is embedded waits for at most one such call (smaller: queries wait less, writes embed slower; `erc-demos add` and the library embed in full calls)' },
  writesPollMs: { env: 'ERC_DEMOS_WRITES_POLL_MS', default: 500, min: 10, doc: 'how often `serve` looks for writes another process made to an index folder it serves (a replica on the same volume) and applies them; a write shows on every replica within about this plus the time to apply it (the lag measured by `npm run live`), and a compacted or rebuilt folder is reopened' },
  writeLockTimeoutMs: { env: 'ERC_DEMOS_WRITE_LOCK_TIMEOUT_MS', default: 10_000, min: 0, doc: 'how long a write waits for another process writing to the same index (writes are serialised by the write log\'s lock) before it fails with WRITE_BUSY' },
  compactHintPercent: { env: 'ERC_DEMOS_COMPACT_HINT_PERCENT', default: 20, min: 1, doc: 'per cent of an index\'s rows written (added, relabelled or removed) since its space was chosen, past which `serve` logs a hint to run `erc-demos compact`' },
  compactHintRows: { env: 'ERC_DEMOS_COMPACT_HINT_ROWS', default: 5000, min: 1, doc: 'rows written since an index\'s build (added or relabelled: searched beside its graph, the newest and the relabelled ones by an exact scan, about 0.7 ms per 1,000 on a 2-core machine, added ones past 2,000 through a graph of their own filled between requests) past which `serve` logs a hint to run `erc-demos compact`, whatever their share' },
  // Logs (src/server/log-destination.ts).
  logFlushMs: { env: 'ERC_DEMOS_LOG_FLUSH_MS', default: 100, min: 0, doc: 'request log lines are written to stdout in blocks, each line at most this late (or once 8 KB are held), a line at level error or above at once with those before it, and all of them at exit: one write per block instead of one per request (about a tenth of a GET\'s main-thread time at concurrency 16); a kill -9 loses at most this much of the request log; 0: each line written as made' },
  shutdownTimeoutMs: { env: 'ERC_DEMOS_SHUTDOWN_TIMEOUT_MS', default: 10_000, min: 0, doc: 'on SIGTERM/SIGINT, time for in-flight requests to finish before every connection is closed and the process exits' },
} as const;

/** Settings whose value is text (each with the pattern it must match). */
const TEXT_SETTINGS = {
  // Embedders (src/embed/create.ts, hub.ts).
  embedThreads: {
    env: 'ERC_DEMOS_EMBED_THREADS', default: 'auto', pattern: /^(auto|\d+)$/, patternDoc: 'must be auto or a whole number', numeric: true,
    doc: 'worker threads that embed: `auto`: one per core for build, prompts and eval, all but one core for serve (at most 4); 0 embeds in the main thread',
  },
  allowRemoteModels: {
    env: 'ERC_DEMOS_ALLOW_REMOTE_MODELS', default: '0', pattern: /^[01]$/, patternDoc: 'must be 0 or 1',
    doc: '1: a `transformers:<hub id>` embedder downloads the model folder from the Hugging Face hub into the model cache; 0: local folders only',
  },
  modelCache: {
    env: 'ERC_DEMOS_MODEL_CACHE', default: '', pattern: /^.*$/, patternDoc: 'a directory',
    doc: 'where downloaded model folders are kept; empty: ~/.cache/erc-demos/models',
  },
  modelHost: {
    env: 'ERC_DEMOS_MODEL_HOST', default: '', pattern: /^(https?:\/\/\S+)?$/, patternDoc: 'must be an http(s) URL',
    doc: 'the hub models are downloaded from (a mirror laid out as the hub is: <host>/<model>/resolve/main/<file>); empty: https://huggingface.co/',
  },
  // Corpora the built-in default index reads (src/cli/default-index.ts).
  dataDir: {
    env: 'ERC_DEMOS_DATA_DIR', default: '', pattern: /^.*$/, patternDoc: 'a directory',
    doc: 'the shared corpora (meld/, emorynlp/, ...); empty: ../shared/data beside the checkout',
  },
  meldDir: {
    env: 'ERC_DEMOS_MELD_DIR', default: '', pattern: /^.*$/, patternDoc: 'a directory',
    doc: 'MELD for the built-in default index (the directory with train_sent_emo.csv); empty: the data directory\'s meld/',
  },
  // Logs (src/server/logging.ts).
  logLevel: {
    env: 'ERC_DEMOS_LOG_LEVEL', default: 'info', pattern: /^(fatal|error|warn|info|debug|trace|silent)$/, patternDoc: 'must be one of fatal, error, warn, info, debug, trace, silent',
    doc: 'level of the JSON request log on stdout; utterances appear only at debug',
  },
  // HTTP (src/server/request-guards.ts).
  allowedHosts: {
    env: 'ERC_DEMOS_ALLOWED_HOSTS', default: 'auto', pattern: /^(auto|\*|(\[[0-9a-fA-F:.]+\]|[\w.-]+)(\s*,\s*(\[[0-9a-fA-F:.]+\]|[\w.-]+))*)$/,
    patternDoc: 'must be auto, * or a comma-separated list of host names',
    doc: 'Host names answered (DNS rebinding guard), any port: `auto`: the loopback names (localhost, 127.0.0.1, [::1]) when bound to a loopback address, any otherwise; `*`: any; or a comma list of names, loopback names included; other Hosts get a JSON 421',
  },
  corsOrigins: {
    env: 'ERC_DEMOS_CORS_ORIGINS', default: '', pattern: /^(https?:\/\/[^\s,/]+(\s*,\s*https?:\/\/[^\s,/]+)*)?$/,
    patternDoc: 'must be empty or a comma-separated list of origins (scheme://host[:port], no path)',
    doc: 'web origins whose pages may call the API from a browser (CORS, src/server/cors.ts), each exactly as the browser sends it (`https://app.example.org`, `http://localhost:3000`): their preflights are answered, allowing the `Authorization` header; empty: CORS off, no cross-origin page may read an answer',
  },
  // API keys (src/keys/, src/cli/serve-command.ts).
  apiKeysFile: {
    env: 'ERC_DEMOS_API_KEYS_FILE', default: '', pattern: /^.*$/, patternDoc: 'a file',
    doc: 'the API keys file `serve` reads (JSON, docs/RELIABILITY.md#api-keys; `serve --keys FILE` overrides it), reread on SIGHUP; with keys every route but /healthz and the page\'s files needs `Authorization: Bearer <key>`; empty: no keys, which `serve` allows only on a loopback address unless ERC_DEMOS_ALLOW_ANONYMOUS=1',
  },
  allowAnonymous: {
    env: 'ERC_DEMOS_ALLOW_ANONYMOUS', default: '0', pattern: /^[01]$/, patternDoc: 'must be 0 or 1',
    doc: '1 (or `serve --allow-anonymous`): a request without a key may read, on purpose, also when `serve` listens on a non-loopback address (without it, no keys there refuses to start); writes always need a key with scope write',
  },
  metricsPublic: {
    env: 'ERC_DEMOS_METRICS_PUBLIC', default: '0', pattern: /^[01]$/, patternDoc: 'must be 0 or 1',
    doc: '1: /metrics answers without a key (for a scraper inside the network); 0: with keys, /metrics needs one like the API',
  },
} as const;

export type Settings = { [K in keyof typeof SETTINGS]: number } & { [K in keyof typeof TEXT_SETTINGS]: string };
export type SettingName = keyof Settings;

const ALL_SETTINGS: Readonly<Record<SettingName, { env: string; default: number | string; doc: string }>> = { ...SETTINGS, ...TEXT_SETTINGS };

/** The documented table: name, environment variable, default, meaning. */
export const SETTINGS_TABLE = Object.entries(ALL_SETTINGS).map(([name, s]) => ({ name: name as SettingName, env: s.env, default: s.default, doc: s.doc }));

export const DEFAULT_SETTINGS: Settings = Object.fromEntries(Object.entries(ALL_SETTINGS).map(([name, s]) => [name, s.default])) as Settings;

/** A text setting that is a number in part (`auto` or a thread count): read as it is written, never trimmed or left empty. */
const isNumeric = (s: (typeof TEXT_SETTINGS)[keyof typeof TEXT_SETTINGS]): boolean => 'numeric' in s && s.numeric;

const SettingsSchema = z.object({
  ...Object.fromEntries(Object.entries(SETTINGS).map(([name, s]) => [name, numberFromText('integer', { min: s.min }).default(s.default)])),
  ...Object.fromEntries(Object.entries(TEXT_SETTINGS).map(([name, s]) => [name, (isNumeric(s) ? z.string() : z.string().trim()).regex(s.pattern, s.patternDoc).default(s.default)])),
});

/** Whether a variable set to the empty string means its default: the text settings' (a directory, a URL, a name), never a number's. */
function emptyIsDefault(name: string): boolean {
  const text = (TEXT_SETTINGS as Record<string, (typeof TEXT_SETTINGS)[keyof typeof TEXT_SETTINGS]>)[name];
  return text !== undefined && !isNumeric(text);
}

/** `NAME=value` as an error shows it, the value quoted where its blanks would not show (`PORT=""`, `HOST=" x"`). */
function assignment(name: string, value: string): string {
  return `${name}=${value === '' || value !== value.trim() ? JSON.stringify(value) : value}`;
}

/** Settings from environment variables (unset: the default; a text setting set empty: its default too). */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  const input = Object.fromEntries(Object.entries(ALL_SETTINGS).flatMap(([name, s]) => {
    const value = env[s.env];
    return value === undefined || (value === '' && emptyIsDefault(name)) ? [] : [[name, value]];
  }));
  const parsed = SettingsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = issue.path[0] as SettingName;
    throw new SettingError(`${assignment(ALL_SETTINGS[name].env, env[ALL_SETTINGS[name].env] ?? '')}: ${issue.message}`);
  }
  return parsed.data as Settings;
}

/**
 * The port `serve` listens on without --port: PORT (as container platforms set it), by the rule of src/numbers.ts,
 * else 8080. `PORT=` or `PORT=abc` is refused naming PORT, not read as 0 (a random port).
 */
export function portFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.PORT;
  if (value === undefined) return 8080;
  const read = readNumber('integer', value, { min: 0, max: 65535 });
  if ('problem' in read) throw new SettingError(`${assignment('PORT', value)}: ${read.problem}`);
  return read.value;
}

/** The address `serve` listens on without --host: HOST, else 127.0.0.1. `HOST=` is refused (Node would listen on every interface). */
export function hostFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const value = env.HOST;
  if (value === undefined) return '127.0.0.1';
  if (value.trim() === '' || value !== value.trim()) throw new SettingError(`${assignment('HOST', value)}: must be an address or host name, without spaces (unset it for 127.0.0.1)`);
  return value;
}
