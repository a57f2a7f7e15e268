/**
 * An input or credential problem the operator must fix before a re-run can succeed.
 * Actions report these without a stack trace (codeql-action's ConfigurationError).
 */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError'
}

/**
 * A failure talking to an outside system. `nextStep` tells the operator what to do about it;
 * `retryable` says whether the same call may be tried again unchanged.
 */
export class ServiceError extends Error {
  override name = 'ServiceError'
  constructor(
    readonly service: string,
    message: string,
    readonly options: { status?: number; retryAfterMs?: number; retryable?: boolean; nextStep?: string } = {},
  ) {
    super(options.nextStep ? `${service}: ${message} — ${options.nextStep}` : `${service}: ${message}`)
  }

  get status(): number | undefined {
    return this.options.status
  }
  get retryable(): boolean {
    return this.options.retryable ?? false
  }
}

/** The message of anything thrown, Error or not (a bare `throw 'x'` must not be swallowed). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
