/** Bad input from a caller (HTTP or CLI): names the parameter so the caller knows what to fix. */
export class InputError extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(`${param}: ${message}`);
    this.name = 'InputError';
  }
}

/** Work stopped because its request was cancelled (the client went away): nobody is waiting for an answer. */
export class CancelledError extends Error {
  constructor() {
    super('request cancelled');
    this.name = 'CancelledError';
  }
}

/** A build's `--out` names something that is not ours to replace (a user's folder, a file): nothing is written. */
export class OutputRefusedError extends Error {
  readonly code = 'OUT_NOT_AN_INDEX';
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`refusing to write --out ${path}: it ${reason}`);
    this.name = 'OutputRefusedError';
  }
}
