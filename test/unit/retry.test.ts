/** The waits a rate-limited reply asks for, and how they are worded for the operator. */
import { describe, expect, it } from 'vitest'
import { ConfigurationError, ServiceError } from '../../src/errors.js'
import { recordingLogger } from '../../src/logger.js'
import { formatWait, rateLimitHint, rateLimitWaitMs, writeOnce } from '../../src/retry.js'
import { instantClock } from '../support/clock.js'

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

describe('writeOnce', () => {
  const lost = () => new ServiceError('Railway', 'no answer within 90 s', { retryable: true })
  const write = (send: () => Promise<string>, confirm: () => Promise<string | undefined>) => {
    const clock = instantClock()
    let sent = 0
    const run = writeOnce({
      describe: 'the upsert',
      service: 'Railway',
      logger: recordingLogger(),
      clock,
      send: () => {
        sent++
        return send()
      },
      confirm,
      nextStep: { notApplied: 'nothing changed; re-run', unknown: 'it is old or new; re-run' },
    })
    return { run, sent: () => sent, clock }
  }

  it('a lost answer is settled by reading back: applied → its result, without sending again', async () => {
    const w = write(
      () => Promise.reject(lost()),
      async () => 'applied',
    )
    await expect(w.run).resolves.toBe('applied')
    expect(w.sent()).toBe(1)
  })

  it('not applied → says nothing changed; unreadable → says it cannot tell; neither sends again', async () => {
    const notApplied = write(
      () => Promise.reject(lost()),
      async () => undefined,
    )
    await expect(notApplied.run).rejects.toThrow(
      'Railway: the upsert did not apply (Railway: no answer within 90 s) — nothing changed; re-run',
    )
    expect(notApplied.sent()).toBe(1)
    const unreadable = write(
      () => Promise.reject(lost()),
      () => Promise.reject(new Error('down')),
    )
    await expect(unreadable.run).rejects.toThrow(/could not tell whether the upsert applied.*down\) — it is old or new/)
    expect(unreadable.sent()).toBe(1)
  })

  it('a 429 that did not apply is sent again after its Retry-After, at most three times in all', async () => {
    const limited = () => new ServiceError('Railway', 'rate limited', { status: 429, retryAfterMs: 2000 })
    const w = write(
      () => Promise.reject(limited()),
      async () => undefined,
    )
    await expect(w.run).rejects.toThrow('rate limited')
    expect(w.sent()).toBe(3)
    expect(w.clock.sleeps).toEqual([2000, 2000])
  })

  it('a refusal that proves nothing was done is thrown as it is, without reading back', async () => {
    let confirmed = false
    const confirm = async () => {
      confirmed = true
      return 'x'
    }
    const refused = write(() => Promise.reject(new ConfigurationError('bad token')), confirm)
    await expect(refused.run).rejects.toThrow('bad token')
    const forbidden = write(() => Promise.reject(new ServiceError('Hub', 'answered 403', { status: 403 })), confirm)
    await expect(forbidden.run).rejects.toThrow('answered 403')
    expect(confirmed).toBe(false)
  })
})
