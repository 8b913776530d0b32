/**
 * The one error class Graft throws. `code` is stable and machine-readable; `message` states the
 * rule and echoes what was received; `hint` says what to change.
 *
 * @example
 * throw new GraftError('E_UNKNOWN_MODEL', `Unknown model "${name}".`, `Should be one of: ${names.join(', ')}`);
 */
export class GraftError extends Error {
  readonly code: string;
  readonly hint?: string;
  constructor(code: string, message: string, hint?: string) {
    super(hint ? `${message}\n  hint: ${hint}` : message);
    this.name = 'GraftError';
    this.code = code;
    this.hint = hint;
  }
}

export function isGraftError(e: unknown): e is GraftError {
  return e instanceof GraftError;
}
