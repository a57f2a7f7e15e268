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
