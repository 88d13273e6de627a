/**
 * Every error a user of erc-demos can meet, in one place, each with a stable `code` a program can test instead of the
 * message (messages may be reworded; codes stay). The doors map codes, not classes: the HTTP server to a status
 * (server/app.ts, HTTP_STATUS), the CLI to an exit code (cli/main.ts, EXIT_CODE).
 */
export const ERROR_CODES = {
  INPUT_INVALID: 'a parameter of a request or command is wrong; `param` names it',
  LIMIT_EXCEEDED: "a request asks for more work than this service's limits allow; the message names the setting",
  PROMPT_TOO_LONG: 'a rendered prompt is over its size limit; `param` names what to shorten',
  TEMPLATE_INVALID: 'a prompt format template is malformed or uses an unknown placeholder',
  CANCELLED: 'the request was cancelled (its client went away); nobody is waiting for an answer',
  OUT_NOT_AN_INDEX: "a build's --out names something that is not an index of ours to replace",
  OUT_REFUSED: "an export's --out names something it must not replace (a device, a directory, a link to nothing, one of its own inputs) or cannot write",
  INDEX_LOAD_FAILED: 'an index directory cannot be opened: missing, damaged, or built with another embedder or model',
  INDEX_NAME_TAKEN: 'two served indexes have one name',
  NO_INDEX: 'nothing to serve: no index directory given',
  CORPUS_FORMAT: 'a corpus file is malformed; the message names the file and line',
  CORPUS_EMPTY: 'the chosen split(s) of the corpus hold no utterances',
  DATA_NOT_FOUND: 'the corpus data path does not exist',
  DATA_PATH_INVALID: 'the corpus data path is a file where a directory is needed',
  SPLIT_MISSING: 'no corpus split given',
  EMBEDDER_UNKNOWN: 'an embedder spec names no known embedder',
  EMBEDDER_OPTION_INVALID: 'an embedder option does not apply to the chosen embedder',
  MODEL_FOLDER_INVALID: 'a sentence-transformers model folder lacks a file or has an unreadable one',
  MODEL_UNAVAILABLE: 'a model is neither a local folder nor downloadable (remote loading off, or the hub refused)',
  MODEL_UNSUPPORTED: 'a model graph takes inputs erc-demos does not feed',
  MODEL_CHANGED: "the model's files changed while they were being loaded",
  SETTING_INVALID: 'a setting (environment variable) has a bad value; the message names the variable',
  NOT_SUPPORTED: 'an operation erc-demos does not offer',
  SERVICE_CLOSED: 'a DemoService, or an index it opened, was called after its close(): open a new one',
  AUTH_REQUIRED: 'a request without a key, or with a key that is not one of the service\'s (HTTP 401): send Authorization: Bearer <key>',
  AUTH_FORBIDDEN: 'a key without the scope or the index a request needs (HTTP 403); `param` names what was refused',
  KEYS_FILE_INVALID: 'the API keys file cannot be read or is malformed; the message names the file and the field',
  NOT_FOUND: 'a write names an index, dialogue or turn that is not there (HTTP 404); `param` names it',
  DIALOGUE_EXISTS: 'a write adds a dialogue whose id the index already holds, or gives one twice (HTTP 409); `param` names it',
  WRITE_BUSY: "another process held the index's write lock past ERC_DEMOS_WRITE_LOCK_TIMEOUT_MS, or a compaction just swapped the index folder (HTTP 503, Retry-After): nothing was written; retry",
  WRITE_FAILED: "the index's write log could not be written (a full disk, a read-only folder): nothing was written; the message says what SQLite said (HTTP 500)",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The base of every error erc-demos throws on purpose: `code` says which (ERROR_CODES), the message says why. */
export class ErcDemosError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ErcDemosError';
  }
}

/** The codes of InputError and its kinds: the caller's mistake, answered 400 / exit status 2. */
export type InputErrorCode = 'INPUT_INVALID' | 'LIMIT_EXCEEDED' | 'PROMPT_TOO_LONG' | 'NOT_FOUND' | 'DIALOGUE_EXISTS';

/** Bad input from a caller (HTTP or CLI): names the parameter so the caller knows what to fix. */
export class InputError extends ErcDemosError {
  declare readonly code: InputErrorCode;
  constructor(
    readonly param: string,
    message: string,
    code: InputErrorCode = 'INPUT_INVALID',
  ) {
    super(code, `${param}: ${message}`);
    this.name = 'InputError';
  }
}

/** A request over one of the limits on its work (service/limits.ts words it): a 400 naming the parameter and setting. */
export class LimitError extends InputError {
  constructor(param: string, message: string) {
    super(param, message, 'LIMIT_EXCEEDED');
    this.name = 'LimitError';
  }
}

/** A rendered prompt over its size limit: a 400 naming what to shorten. */
export class PromptTooLongError extends InputError {
  constructor(param: string, message: string) {
    super(param, message, 'PROMPT_TOO_LONG');
    this.name = 'PromptTooLongError';
  }
}

/** A prompt format's template that cannot be filled (malformed braces, an unknown placeholder). */
export class TemplateError extends ErcDemosError {
  constructor(message: string) {
    super('TEMPLATE_INVALID', message);
    this.name = 'TemplateError';
  }
}

/** Work stopped because its request was cancelled (the client went away): nobody is waiting for an answer. */
export class CancelledError extends ErcDemosError {
  constructor() {
    super('CANCELLED', 'request cancelled');
    this.name = 'CancelledError';
  }
}

/** A build's `--out` names something that is not ours to replace (a user's folder, a file): nothing is written. */
export class OutputRefusedError extends ErcDemosError {
  declare readonly code: 'OUT_NOT_AN_INDEX';
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super('OUT_NOT_AN_INDEX', `refusing to write --out ${path}: it ${reason}`);
    this.name = 'OutputRefusedError';
  }
}

/**
 * An export's `--out` that is not a regular file to replace, or one of the export's own inputs, or that could not be
 * written (a full disk): the message names the path, and nothing was replaced.
 */
export class ExportRefusedError extends ErcDemosError {
  declare readonly code: 'OUT_REFUSED';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super('OUT_REFUSED', message);
    this.name = 'ExportRefusedError';
  }
}

/** An index directory that cannot be opened (or served with this embedder): names the directory. */
export class IndexLoadError extends ErcDemosError {
  constructor(dir: string, message: string) {
    super('INDEX_LOAD_FAILED', `index ${dir}: ${message}`);
    this.name = 'IndexLoadError';
  }
}

/** The set of indexes to serve is wrong as a whole: none given, or two with one name. */
export class IndexSetError extends ErcDemosError {
  constructor(code: 'NO_INDEX' | 'INDEX_NAME_TAKEN', message: string) {
    super(code, message);
    this.name = 'IndexSetError';
  }
}

/** A malformed input file: names the file and the line so the user can fix it. */
export class CorpusFormatError extends ErcDemosError {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super('CORPUS_FORMAT', `${file}:${line}: ${message}`);
    this.name = 'CorpusFormatError';
  }
}

/** Where a corpus is read from, or what of it, cannot work: a missing path, a file for a directory, no split, nothing in it. */
export class CorpusSourceError extends ErcDemosError {
  constructor(code: 'DATA_NOT_FOUND' | 'DATA_PATH_INVALID' | 'SPLIT_MISSING' | 'CORPUS_EMPTY', message: string) {
    super(code, message);
    this.name = 'CorpusSourceError';
  }
}

/** A sentence-transformers model folder that cannot be used: names the folder. */
export class ModelFolderError extends ErcDemosError {
  constructor(dir: string, message: string) {
    super('MODEL_FOLDER_INVALID', `model folder ${dir}: ${message}`);
    this.name = 'ModelFolderError';
  }
}

/** An embedder that cannot be made: an unknown spec, an option it does not take, a model not there or not usable. */
export class EmbedderError extends ErcDemosError {
  constructor(code: 'EMBEDDER_UNKNOWN' | 'EMBEDDER_OPTION_INVALID' | 'MODEL_UNAVAILABLE' | 'MODEL_UNSUPPORTED' | 'MODEL_CHANGED', message: string) {
    super(code, message);
    this.name = 'EmbedderError';
  }
}

/** A setting with a bad value, or two settings that contradict each other: names the environment variable(s). */
export class SettingError extends ErcDemosError {
  constructor(message: string) {
    super('SETTING_INVALID', message);
    this.name = 'SettingError';
  }
}

/** Something erc-demos does not do, said plainly (with what to do instead). */
export class NotSupportedError extends ErcDemosError {
  constructor(message: string) {
    super('NOT_SUPPORTED', message);
    this.name = 'NotSupportedError';
  }
}

/**
 * A DemoService called after its close(), or an index it opened (a program's mistake: its embedders may be gone, its
 * graphs are freed). `what` names the call: `DemoService.plan`, `index meld`.
 */
export class ServiceClosedError extends ErcDemosError {
  constructor(what: string) {
    super('SERVICE_CLOSED', `${what}: the service is closed; open a new one with DemoService.load`);
    this.name = 'ServiceClosedError';
  }
}

/**
 * A request the API keys do not let through (src/keys/auth.ts): no key or a wrong one (AUTH_REQUIRED, 401, with
 * the `WWW-Authenticate` challenge), or a key without the scope or index asked for (AUTH_FORBIDDEN, 403). `param` names
 * what was refused (`authorization`, `index`, `queries.3.index`). The message never holds the key.
 */
export class AuthError extends ErcDemosError {
  declare readonly code: 'AUTH_REQUIRED' | 'AUTH_FORBIDDEN';
  constructor(
    code: 'AUTH_REQUIRED' | 'AUTH_FORBIDDEN',
    readonly param: string,
    message: string,
    /** The `WWW-Authenticate` header of the answer (RFC 6750). */
    readonly challenge: string,
  ) {
    super(code, message);
    this.name = 'AuthError';
  }
}

/** An API keys file that cannot be read or is malformed: names the file and the field (never a key's value). */
export class KeysFileError extends ErcDemosError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super('KEYS_FILE_INVALID', `keys file ${file}: ${message}`);
    this.name = 'KeysFileError';
  }
}

/** A write that waited for the index's write lock (another process writing) past its timeout: nothing was written. */
export class WriteBusyError extends ErcDemosError {
  declare readonly code: 'WRITE_BUSY';
  constructor(message: string) {
    super('WRITE_BUSY', message);
    this.name = 'WriteBusyError';
  }
}

/** A write the index's write log could not take (disk full, folder not writable): nothing was written. */
export class WriteFailedError extends ErcDemosError {
  declare readonly code: 'WRITE_FAILED';
  constructor(message: string) {
    super('WRITE_FAILED', message);
    this.name = 'WriteFailedError';
  }
}

/** The code of an error erc-demos threw on purpose; undefined for any other error (a bug, a system error). */
export function errorCode(error: unknown): ErrorCode | undefined {
  return error instanceof ErcDemosError ? error.code : undefined;
}
