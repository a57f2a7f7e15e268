import type { Clock } from '../../src/retry.js'

/**
 * A clock whose sleeps return at once and move time forward, so backoff and polling cost nothing;
 * `sleeps` records every wait the code under test asked for.
 */
export function instantClock(start = Date.UTC(2026, 10, 25, 12)): Clock & { sleeps: number[] } {
  let now = start
  const sleeps: number[] = []
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms)
      now += ms
    },
  }
}
