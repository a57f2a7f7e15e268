/**
 * One stand-in for @actions/core shared by the action main tests: every call the actions make is a
 * vi.fn(), core.group just runs its body, and the job summary builder chains like the real one.
 * vi.mock factories are hoisted above the imports, so a test loads this module inside its factory:
 *
 *   vi.mock('@actions/core', async (original) => (await import('../support/core-mock.js')).coreMock(original))
 *
 * `answerInputs` then feeds core.getInput/getBooleanInput from the test's own values.
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

const YAML_TRUE = ['true', 'True', 'TRUE']
const YAML_FALSE = ['false', 'False', 'FALSE']

/**
 * Makes the mocked core.getInput/getBooleanInput answer from `lookup` with the real toolkit's rules:
 * values trimmed, a required input that is empty throws, and a boolean must be a YAML 1.2 true/false.
 * `lookup` is called on every read, so a test may change its values between runs.
 */
export function answerInputs(core: Core, lookup: (name: string) => string | undefined): void {
  const getInput = (name: string, options?: { required?: boolean }) => {
    const value = (lookup(name) ?? '').trim()
    if (options?.required && !value) throw new Error(`Input required and not supplied: ${name}`)
    return value
  }
  vi.mocked(core.getInput).mockImplementation(getInput)
  vi.mocked(core.getBooleanInput).mockImplementation((name, options) => {
    const value = getInput(name, options)
    if (YAML_TRUE.includes(value)) return true
    if (YAML_FALSE.includes(value)) return false
    throw new TypeError(`Input does not meet YAML 1.2 "Core Schema" specification: ${name}`)
  })
}
