import { ConfigurationError, errorMessage, ServiceError } from './errors.js'
import type { Logger } from './logger.js'

export interface Clock {
  now(): number
  sleep(ms: number): Promise<void>
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}

export interface RetryOptions {
  /** Total attempts, the first included. */
  attempts?: number
  /** First backoff; doubles each time, capped at maxDelayMs. */
  baseDelayMs?: number
  maxDelayMs?: number
  clock?: Clock
  /** Called before each wait, so the operator sees why the run pauses. */
  onRetry?: (error: ServiceError, delayMs: number, attempt: number) => void
}

/**
 * Runs an idempotent read until it succeeds, retrying only ServiceErrors marked retryable
 * (429, 5xx, timeouts). A server's Retry-After wins over our own backoff. Writes must not
 * go through here: a write whose reply was lost is read back by the caller instead.
 */
export async function retryRead<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { attempts = 4, baseDelayMs = 1000, maxDelayMs = 30_000, clock = realClock, onRetry } = options
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (error) {
      if (!(error instanceof ServiceError) || !error.retryable || attempt >= attempts) throw error
      const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
      const delay = error.options.retryAfterMs ?? backoff
      onRetry?.(error, delay, attempt)
      await clock.sleep(delay)
    }
  }
}

/** Parses a Retry-After header (seconds or an HTTP date) into milliseconds; undefined when absent or invalid. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/**
 * The wait a rate-limited reply asks for: its Retry-After, else its X-RateLimit-Reset (Unix seconds,
 * seconds from now, or an HTTP date); undefined when it names none.
 */
export function rateLimitWaitMs(
  headers: { retryAfter?: string | null; reset?: string | null },
  now = Date.now(),
): number | undefined {
  const retryAfter = parseRetryAfter(headers.retryAfter, now)
  if (retryAfter !== undefined || !headers.reset) return retryAfter
  const reset = Number(headers.reset)
  // A count of seconds this large is a moment (Unix time), not a duration.
  if (Number.isFinite(reset) && reset > 1e9) return Math.max(0, reset * 1000 - now)
  return parseRetryAfter(headers.reset, now)
}

/** 900 ms → "1 s", 90 s → "2 min", 2 h → "2 h": how long to wait, in words an operator reads at a glance. */
export function formatWait(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000))
  if (seconds < 120) return `${seconds} s`
  const minutes = Math.ceil(seconds / 60)
  return minutes < 120 ? `${minutes} min` : `${Math.ceil(minutes / 60)} h`
}

/** The next step after a 429: the real wait when the reply named one, otherwise `fallback`. */
export function rateLimitHint(waitMs: number | undefined, fallback: string): string {
  return waitMs === undefined ? fallback : `wait ${formatWait(waitMs)} (as the server asked), then re-run`
}

/**
 * Polls `check` until it returns a value other than undefined or the deadline passes.
 * Every wait in the pipeline has a deadline below its job's timeout-minutes.
 */
export async function pollUntil<T>(
  check: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs: number; clock?: Clock; what: string },
): Promise<T> {
  const clock = options.clock ?? realClock
  const deadline = clock.now() + options.timeoutMs
  for (;;) {
    const result = await check()
    if (result !== undefined) return result
    if (clock.now() + options.intervalMs > deadline) {
      throw new ServiceError(
        'timeout',
        `gave up waiting for ${options.what} after ${Math.round(options.timeoutMs / 1000)} s`,
        {
          nextStep: 'check the service, then re-run the job (it is idempotent)',
        },
      )
    }
    await clock.sleep(options.intervalMs)
  }
}

export interface WriteOnceOptions<T> {
  /** What the write does, for the log and the errors: "the variable upsert", "deployment of cognitia". */
  describe: string
  /** Sends the write. It is sent again only after a refusal (429) that reading back proved did not apply. */
  send: () => Promise<T>
  /** Reads the state back after a failure: the write's result when it applied, undefined when it did not. */
  confirm: () => Promise<T | undefined>
  /** Who answered: the ServiceError's service ("Railway", "Hugging Face"). */
  service: string
  logger: Logger
  clock?: Clock
  /** What the operator does when it did not apply, or when reading back failed too; default: the failure's own. */
  nextStep?: { notApplied?: string; unknown?: string }
  /** Sends in all, the first included, while 429s keep refusing it (default 3). */
  attempts?: number
}

/**
 * The one way a write that must never be repeated blindly is sent (Railway has no idempotency keys;
 * the Hub's writes are not all idempotent). A failure whose outcome is unknown (a timeout, a 5xx, a
 * garbled reply, a 429) is settled by `confirm` reading the state back: applied → its result; not
 * applied → an error saying nothing changed, except that a 429 is sent again after its Retry-After.
 * Refusals that prove nothing was done (ConfigurationError, other 4xx) are thrown as they are.
 */
export async function writeOnce<T>(options: WriteOnceOptions<T>): Promise<T> {
  const { describe, logger, clock = realClock, attempts = 3 } = options
  for (let attempt = 1; ; attempt++) {
    let failure: unknown
    try {
      return await options.send()
    } catch (error) {
      failure = error
    }
    if (!mayHaveApplied(failure)) throw failure
    logger.warning(`${describe} failed (${errorMessage(failure)}); reading back whether it applied`)
    const applied = await confirmAfter(options, failure)
    if (applied !== undefined) {
      logger.info(`${describe}: the answer was lost, but reading back shows it applied`)
      return applied
    }
    if (!(failure instanceof ServiceError && failure.status === 429) || attempt >= attempts) {
      throw notApplied(options, failure)
    }
    const delay = failure.options.retryAfterMs ?? 5000
    logger.warning(`${describe} was rate limited and did not apply; sending it again in ${formatWait(delay)}`)
    await clock.sleep(delay)
  }
}

/** False only for answers that prove nothing was done: a ConfigurationError, or a 4xx other than 408 and 429. */
function mayHaveApplied(error: unknown): boolean {
  if (error instanceof ConfigurationError) return false
  if (!(error instanceof ServiceError) || error.status === undefined) return true
  return !(error.status >= 400 && error.status < 500) || error.status === 408 || error.status === 429
}

async function confirmAfter<T>(options: WriteOnceOptions<T>, failure: unknown): Promise<T | undefined> {
  try {
    return await options.confirm()
  } catch (readError) {
    if (readError instanceof ConfigurationError) throw readError
    throw new ServiceError(
      options.service,
      `could not tell whether ${options.describe} applied (${errorMessage(failure)}; reading back: ${errorMessage(readError)})`,
      { nextStep: options.nextStep?.unknown ?? nextStepOf(failure) },
    )
  }
}

function notApplied<T>(options: WriteOnceOptions<T>, failure: unknown): unknown {
  // A 429 keeps its own wording: it already says how long to wait.
  if (failure instanceof ServiceError && failure.status === 429) return failure
  return new ServiceError(options.service, `${options.describe} did not apply (${errorMessage(failure)})`, {
    nextStep: options.nextStep?.notApplied ?? nextStepOf(failure),
  })
}

function nextStepOf(error: unknown): string {
  return (error instanceof ServiceError && error.options.nextStep) || 're-run the job (it is idempotent)'
}
