import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import type { CheckResult } from './types.js'

/** Reads one of Cognitia's Railway variables, unrendered (the railway helper implements it). */
export interface RailwayVariableReader {
  readVariable(name: string): Promise<string | undefined>
}

export interface CognitiaValidationOptions {
  /** The Space API base URL Cognitia should now point at. */
  expectedUrl: string
  /** Railway variable that holds it. */
  variable: string
  /** Cognitia's own health endpoint; skipped when absent. */
  healthUrl?: string
  timeoutMs?: number
}

export interface CognitiaReport {
  target: 'cognitia'
  generatedAt: string
  passed: boolean
  checks: CheckResult[]
}

const sameUrl = (a: string, b: string) => a.trim().replace(/\/+$/, '') === b.trim().replace(/\/+$/, '')

export function checkRailwayVariable(variable: string, value: string | undefined, expectedUrl: string): CheckResult {
  const ok = value !== undefined && sameUrl(value, expectedUrl)
  return {
    id: 'railway-variable',
    title: `Cognitia's ${variable} points at the Space`,
    status: ok ? 'pass' : 'fail',
    observed: value ?? 'not set',
    expected: expectedUrl,
    detail: ok ? undefined : 'run switch-railway (mode: switch), or rollback if this is not the intended state',
  }
}

export function checkHealth(url: string | undefined, status: number | string | null): CheckResult {
  const base = { id: 'cognitia-health', title: 'Cognitia health URL answers', expected: '2xx' }
  if (!url) return { ...base, status: 'skip', observed: '-', detail: 'no cognitia-health-url given' }
  const ok = typeof status === 'number' && status >= 200 && status < 300
  return {
    ...base,
    status: ok ? 'pass' : 'fail',
    observed: typeof status === 'number' ? `HTTP ${status}` : String(status),
    detail: ok
      ? undefined
      : "read Cognitia's Railway deploy logs; roll back with rollback.yml if it cannot reach the Space",
  }
}

/** Cognitia's side of the switch: the variable holds the Space URL and the app itself is healthy. */
export async function validateCognitia(
  deps: { variables: RailwayVariableReader; logger: Logger; fetch?: typeof fetch },
  options: CognitiaValidationOptions,
): Promise<CognitiaReport> {
  const checks: CheckResult[] = []
  await deps.logger.group('Railway variable', async () => {
    try {
      checks.push(
        checkRailwayVariable(
          options.variable,
          await deps.variables.readVariable(options.variable),
          options.expectedUrl,
        ),
      )
    } catch (error) {
      checks.push({
        ...checkRailwayVariable(options.variable, undefined, options.expectedUrl),
        observed: `cannot read it: ${errorMessage(error)}`,
      })
    }
  })
  await deps.logger.group('Cognitia health', async () => {
    let status: number | string | null = null
    if (options.healthUrl) {
      try {
        const response = await (deps.fetch ?? fetch)(options.healthUrl, {
          signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
        })
        await response.body?.cancel()
        status = response.status
      } catch (error) {
        status = `no answer: ${errorMessage(error)}`
      }
    }
    checks.push(checkHealth(options.healthUrl, status))
  })
  return {
    target: 'cognitia',
    generatedAt: new Date().toISOString(),
    passed: checks.every((c) => c.status !== 'fail'),
    checks,
  }
}
