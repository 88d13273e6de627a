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
