/** The waits a rate-limited reply asks for, and how they are worded for the operator. */
import { describe, expect, it } from 'vitest'
import { formatWait, rateLimitHint, rateLimitWaitMs } from '../../src/retry.js'

const now = Date.UTC(2026, 11, 2, 12, 0, 0)

describe('rateLimitWaitMs', () => {
  it('prefers Retry-After, then reads X-RateLimit-Reset as Unix seconds, seconds from now or a date', () => {
    expect(rateLimitWaitMs({ retryAfter: '1', reset: String(now / 1000 + 3600) }, now)).toBe(1000)
    expect(rateLimitWaitMs({ reset: String(now / 1000 + 90) }, now)).toBe(90_000)
    expect(rateLimitWaitMs({ reset: '42' }, now)).toBe(42_000)
    expect(rateLimitWaitMs({ reset: new Date(now + 5000).toUTCString() }, now)).toBe(5000)
    expect(rateLimitWaitMs({}, now)).toBeUndefined()
    expect(rateLimitWaitMs({ retryAfter: 'soon' }, now)).toBeUndefined()
  })
})

describe('rateLimitHint', () => {
  it('quotes the real wait when there is one, else the fallback', () => {
    expect(rateLimitHint(1000, 'wait for the hourly reset')).toBe('wait 1 s (as the server asked), then re-run')
    expect(rateLimitHint(undefined, 'wait for the hourly reset')).toBe('wait for the hourly reset')
    expect([formatWait(900), formatWait(90_000), formatWait(150_000), formatWait(3 * 3600_000)]).toEqual([
      '1 s',
      '90 s',
      '3 min',
      '3 h',
    ])
  })
})
