import { ServiceError } from './errors.js'

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
