/**
 * The fault matrix: record every outside call of a clean switch and of a clean rollback, then
 * fail each call in turn — once (a blip), from then on (an outage), and for writes after they took
 * effect (the answer lost) — with each kind of failure. Every case must end either in success or in
 * an error that says what to do; Cognitia's variable must be the old or the new value; a rollback
 * with Railway healthy again must restore the old value; and no token may appear in any output.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigurationError, errorMessage, ServiceError } from '../../src/errors.js'
import { decommission, rollback, switchToSpace } from '../../src/railway/switch.js'
import { COGNITIA, type FaultRule, type RailwayFake, type RailwayFault, startRailwayFake } from '../fakes/railway.js'
import { fakeClient, HF_TOKEN, SPACE_URL, switchSettings } from '../fakes/railway-harness.js'

const PREVIOUS = 'ZEROLLAMA_PREVIOUS_OLLAMA_BASE_URL'
const WRITES = new Set(['UpsertVariables', 'DeployService', 'RemoveDeployment'])
const SECRETS = [
  COGNITIA.projectToken,
  COGNITIA.accountToken,
  HF_TOKEN,
  COGNITIA.databaseUrl,
  'pg-s3cret-4d1f',
  COGNITIA.sessionSecret,
]

const FAULTS: Record<string, RailwayFault> = {
  '503': { kind: 'status', status: 503 },
  '429': { kind: 'rate-limit', retryAfterSeconds: 30 },
  timeout: { kind: 'hang' },
  malformed: { kind: 'malformed' },
  'graphql error': { kind: 'graphql-error', message: 'Internal server error' },
}

interface Scenario {
  name: 'switch' | 'rollback' | 'switch after a stale record'
  /** The value Cognitia used before the scenario's switch: what every case must be able to restore. */
  original: string
  /** Brings the fake to the scenario's starting point (through the same domain code). */
  prepare(fake: RailwayFake): Promise<void>
  run(fake: RailwayFake, lines: string[]): Promise<unknown>
}

const settings = switchSettings({ hfToken: HF_TOKEN })
const runWith = async (fake: RailwayFake, lines: string[], action: typeof switchToSpace) => {
  // 400 ms detects a hang quickly yet leaves room for a loaded machine; two attempts keep outages short.
  const { client, logger } = fakeClient(fake, { timeoutMs: 400, readAttempts: 2 })
  try {
    return await action(client, settings, logger)
  } finally {
    lines.push(...logger.lines)
  }
}

/** Where the operator moved Cognitia after an earlier switch and rollback, leaving that cycle's record behind. */
const OLLAMA_V2 = 'http://ollama-v2.railway.internal:11434'

const scenarios: Scenario[] = [
  {
    name: 'switch',
    original: COGNITIA.ollamaUrl,
    prepare: async () => undefined,
    run: (fake, lines) => runWith(fake, lines, switchToSpace),
  },
  {
    name: 'rollback',
    original: COGNITIA.ollamaUrl,
    // Switched and the old Ollama stopped: rollback has every step to do.
    prepare: async (fake) => {
      await runWith(fake, [], switchToSpace)
      await runWith(fake, [], decommission)
    },
    run: (fake, lines) => runWith(fake, lines, rollback),
  },
  {
    name: 'switch after a stale record',
    original: OLLAMA_V2,
    // A full cycle, then Cognitia moved by hand: the record still names the first Ollama.
    prepare: async (fake) => {
      await runWith(fake, [], switchToSpace)
      await runWith(fake, [], rollback)
      fake.state.setVariable(COGNITIA.cognitiaServiceId, COGNITIA.environmentId, 'OLLAMA_BASE_URL', OLLAMA_V2)
    },
    run: (fake, lines) => runWith(fake, lines, switchToSpace),
  },
]

interface Case {
  scenario: Scenario
  index: number
  operation: string
  fault: string
  shape: 'once' | 'outage' | 'after-apply'
}

/** The clean run's calls, relative to the end of the scenario's preparation. */
async function recordCalls(scenario: Scenario): Promise<string[]> {
  const fake = await startRailwayFake()
  try {
    await scenario.prepare(fake)
    const offset = fake.state.calls.length
    await scenario.run(fake, [])
    return fake.state.calls.slice(offset).map((c) => c.operation)
  } finally {
    await fake.close()
  }
}

// Load Node's fetch now, so its first use cannot outlast the short client timeout below and
// shift the recorded call indices with a retry.
await recordCalls(scenarios[0] as Scenario)
const cases: Case[] = []
const sequences: Record<string, string[]> = {}
for (const scenario of scenarios) {
  const operations = await recordCalls(scenario)
  sequences[scenario.name] = operations
  operations.forEach((operation, index) => {
    for (const fault of Object.keys(FAULTS)) {
      cases.push({ scenario, index, operation, fault, shape: 'once' })
      cases.push({ scenario, index, operation, fault, shape: 'outage' })
      if (WRITES.has(operation)) cases.push({ scenario, index, operation, fault, shape: 'after-apply' })
    }
  })
}

const outcomes = { ok: 0, error: 0 }
afterAll(() => {
  const lines = Object.entries(sequences).map(([name, ops]) => `${name}: ${ops.length} calls (${ops.join(', ')})`)
  console.log(
    `fault matrix: ${cases.length} cases ran — ${outcomes.ok} ended in success, ${outcomes.error} in an actionable error (each case asserts the invariant)\n${lines.join('\n')}`,
  )
})

describe('fault matrix', () => {
  it('recorded the calls of a full switch, a full rollback and a switch over a stale record', () => {
    expect(sequences.switch).toEqual(
      expect.arrayContaining([
        'ProjectToken',
        'ProjectTopology',
        'ServiceVariables',
        'UpsertVariables',
        'DeployService',
      ]),
    )
    expect(sequences.switch?.filter((op) => WRITES.has(op))).toEqual(['UpsertVariables', 'DeployService'])
    expect(sequences['switch after a stale record']?.filter((op) => WRITES.has(op))).toEqual([
      'UpsertVariables',
      'DeployService',
    ])
    expect(sequences.rollback?.filter((op) => WRITES.has(op))).toEqual([
      'UpsertVariables',
      'DeployService',
      'DeployService',
    ])
  })

  it.each(cases.map((c) => [`${c.scenario.name} #${c.index} ${c.operation}: ${c.fault} ${c.shape}`, c] as const))(
    '%s',
    async (_name, c) => {
      const fake = await startRailwayFake()
      const output: string[] = []
      try {
        await c.scenario.prepare(fake)
        const offset = fake.state.calls.length
        const rule: FaultRule = {
          fault: FAULTS[c.fault] as RailwayFault,
          atCall: offset + c.index,
          times: c.shape === 'outage' ? Number.POSITIVE_INFINITY : 1,
          afterApply: c.shape === 'after-apply',
          operation: c.shape === 'after-apply' ? c.operation : undefined,
        }
        fake.inject(rule)

        let failure: unknown
        await c.scenario.run(fake, output).catch((error: unknown) => {
          failure = error
        })
        expect(fake.state.calls[offset + c.index]?.result, 'the fault hit the intended call').not.toBe('ok')
        if (failure === undefined) outcomes.ok++
        else {
          outcomes.error++
          output.push(errorMessage(failure), (failure as Error).stack ?? '')
          expect(failure instanceof ServiceError || failure instanceof ConfigurationError).toBe(true)
          // Actionable: a ServiceError carries its next step after an em dash.
          expect(errorMessage(failure)).toMatch(/ — .*(re-run|rollback|check|wait)/)
        }

        const { original } = c.scenario
        const url = fake.state.variable('cognitia', 'OLLAMA_BASE_URL')
        expect([original, SPACE_URL]).toContain(url)
        if (url === SPACE_URL) expect(fake.state.variable('cognitia', PREVIOUS)).toBe(original)

        fake.clearFaults()
        await runWith(fake, output, rollback)
        expect(fake.state.variable('cognitia', 'OLLAMA_BASE_URL')).toBe(original)
        expect(fake.state.isRunning('ollama')).toBe(true)
        const live = fake.state.deploymentsOf('cognitia').filter((d) => d.status === 'SUCCESS')
        expect(live.map((d) => d.variables.OLLAMA_BASE_URL)).toEqual([original])

        const captured = output.join('\n')
        for (const secret of SECRETS) expect(captured).not.toContain(secret)
      } finally {
        await fake.close()
      }
    },
  )
})
