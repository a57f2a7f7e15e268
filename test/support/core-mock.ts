/**
 * One stand-in for @actions/core shared by the action main tests: every call the actions make is a
 * vi.fn(), core.group just runs its body, and the job summary builder chains like the real one.
 * vi.mock factories are hoisted above the imports, so a test loads this module inside its factory:
 *
 *   vi.mock('@actions/core', async (original) => (await import('../support/core-mock.js')).coreMock(original))
 *
 * Inputs are left to each test (`vi.mocked(core.getInput).mockImplementation(...)`), since the
 * actions differ in which inputs they read and how strictly.
 */
import { vi } from 'vitest'

type Core = typeof import('@actions/core')

const SUMMARY_BUILDERS = ['addHeading', 'addTable', 'addList', 'addRaw'] as const

export async function coreMock(importOriginal: () => Promise<unknown>) {
  const actual = (await importOriginal()) as Core
  const summary = { write: vi.fn() } as Record<(typeof SUMMARY_BUILDERS)[number] | 'write', ReturnType<typeof vi.fn>>
  for (const method of SUMMARY_BUILDERS) summary[method] = vi.fn(() => summary)
  summary.write.mockImplementation(async () => summary)
  return {
    ...actual,
    getInput: vi.fn(),
    getBooleanInput: vi.fn(),
    setOutput: vi.fn(),
    setFailed: vi.fn(),
    setSecret: vi.fn(),
    info: vi.fn(),
    warning: vi.fn(),
    debug: vi.fn(),
    notice: vi.fn(),
    group: vi.fn(async (_name: string, fn: () => Promise<unknown>) => fn()),
    summary,
  }
}

/** Every summary builder call since the mocks were last cleared, in call order, as [method, ...args]. */
export function summaryCalls(summary: Core['summary']): unknown[][] {
  return SUMMARY_BUILDERS.flatMap((method) => {
    const { calls, invocationCallOrder } = vi.mocked(summary[method]).mock
    return calls.map((args, i) => ({ order: invocationCallOrder[i] ?? 0, call: [method, ...args] }))
  })
    .sort((a, b) => a.order - b.order)
    .map(({ call }) => call)
}
