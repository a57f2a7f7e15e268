import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { recordingLogger } from '../../src/logger.js'
import { OllamaClient } from '../../src/ollama/client.js'
import { validateCognitia } from '../../src/validate/cognitia.js'
import { summaryTables } from '../../src/validate/report.js'
import { type SpaceValidationOptions, validateSpace } from '../../src/validate/space.js'
import { type FakeOllama, startFakeOllama } from '../fakes/ollama.js'

let fake: FakeOllama | undefined
afterEach(async () => {
  await fake?.stop()
  fake = undefined
})

const defaults: SpaceValidationOptions = {
  ttftMsMax: 1000,
  tokensPerSecondMin: 50,
  requiredModels: ['qwen2.5:7b', 'phi3'],
  requireGpu: true,
  allowPaidHardware: false,
  authExpected: true,
  monthlyTokens: 1_000_000,
}
const status = (report: { checks: { id: string; status: string }[] }) =>
  Object.fromEntries(report.checks.map((c) => [c.id, c.status]))

describe('validateSpace against the fake Space', () => {
  it('passes a private, warm, GPU-backed ZeroGPU Space and fills the cost section', async () => {
    fake = await startFakeOllama({
      pulled: ['qwen2.5:7b', 'phi3'],
      hfToken: 'hf_x',
      tokensPerSecond: 80,
      diagnostics: { zerogpu: true },
    })
    const client = new OllamaClient({ baseUrl: fake.url, hfToken: 'hf_x' })
    const report = await validateSpace({ client, logger: recordingLogger() }, defaults)
    expect(status(report)).toEqual({
      'models-present': 'pass',
      'ttft:qwen2.5:7b': 'pass',
      'tokens-per-second:qwen2.5:7b': 'pass',
      'ttft:phi3': 'pass',
      'tokens-per-second:phi3': 'pass',
      gpu: 'pass',
      auth: 'pass',
      'hardware-billing': 'pass',
      'zerogpu-caller-billing': 'pass',
      'zerogpu-gpu-size': 'pass',
      'zerogpu-cold-start': 'pass',
      'zerogpu-decode-step': 'pass',
    })
    expect(report.passed).toBe(true)
    expect(report.models.map((m) => [m.model, m.device, Math.round(m.tokensPerSecond)])).toEqual([
      ['qwen2.5:7b', 'gpu', 80],
      ['phi3', 'gpu', 80],
    ])
    expect(report.models[0]?.gpuSeconds).toBeGreaterThan(0)
    expect(report.cost?.models.map((m) => m.model)).toEqual(['qwen2.5:7b', 'phi3'])
    expect(report.cost?.hardwareBilled).toBe(false)
    // the summary shows every check and the COP figures
    const tables = summaryTables(report)
    expect(tables.map((t) => t.title)).toEqual([
      'Checks',
      'Per model',
      expect.stringMatching(/^Costs \(COP at 3768.73 per USD, 2026-03-03; tier PRO/),
      'Monthly estimate for 1,000,000 generated tokens',
      'ZeroGPU runtime (first deploy)',
    ])
    expect(tables[2]?.rows[0]?.[0]).toBe('qwen2.5:7b')
    expect(tables[2]?.rows[0]?.[2]).toMatch(/\$/)
  })

  it('fails slow, cold, CPU-bound, open Spaces on paid hardware, check by check', async () => {
    fake = await startFakeOllama({
      pulled: ['qwen2.5:7b'],
      ttftMs: 1200,
      tokensPerSecond: 20,
      device: 'cpu',
      hardware: 'a10g-small',
    })
    const client = new OllamaClient({ baseUrl: fake.url, apiKey: 'expected-but-not-enforced' })
    const report = await validateSpace({ client, logger: recordingLogger() }, defaults)
    expect(status(report)).toEqual({
      'models-present': 'fail',
      'ttft:qwen2.5:7b': 'fail',
      'tokens-per-second:qwen2.5:7b': 'fail',
      'generate:phi3': 'fail',
      gpu: 'fail',
      auth: 'fail',
      'hardware-billing': 'fail',
      // the fake is off ZeroGPU unless told
      'zerogpu-caller-billing': 'skip',
      'zerogpu-gpu-size': 'skip',
      'zerogpu-cold-start': 'skip',
      'zerogpu-decode-step': 'skip',
    })
    expect(report.passed).toBe(false)
    expect(report.checks.find((c) => c.id === 'generate:phi3')?.observed).toMatch(/not found/)
    expect(report.cost?.hardwareBilled).toBe(true)
    expect(report.cost?.hardwarePerMonthCop).toBeCloseTo(1.0 * 24 * 30 * 3768.73)
  })

  it('prefers the Hub runtime over the catalog for hardware, and allows paid hardware when told', async () => {
    fake = await startFakeOllama({ pulled: ['phi3'] })
    const client = new OllamaClient({ baseUrl: fake.url })
    const runtime = { getRuntime: async () => ({ stage: 'RUNNING', hardware: { current: 'l4x1', requested: 'l4x1' } }) }
    const options = { ...defaults, requiredModels: ['phi3'], authExpected: false, spaceId: 'o/s' }
    const refused = await validateSpace({ client, logger: recordingLogger(), runtime }, options)
    expect(refused.checks.find((c) => c.id === 'hardware-billing')).toMatchObject({
      status: 'fail',
      observed: 'l4x1 ($0.8/h)',
    })
    expect(refused.runtime?.hardware.current).toBe('l4x1')
    expect(refused.cost?.hardware).toBe('l4x1')
    const allowed = await validateSpace(
      { client, logger: recordingLogger(), runtime },
      { ...options, allowPaidHardware: true },
    )
    expect(allowed.passed).toBe(true)
    expect(status(allowed).auth).toBe('skip')
  })

  it('reports an unreachable Space as failed checks, not a crash', async () => {
    const client = new OllamaClient({ baseUrl: 'http://127.0.0.1:9', retry: { attempts: 1 } })
    const report = await validateSpace({ client, logger: recordingLogger() }, { ...defaults, requiredModels: ['phi3'] })
    expect(report.passed).toBe(false)
    expect(report.cost).toBeNull()
    expect(report.checks.every((c) => c.status === 'fail')).toBe(true)
  })
})

describe('validateCognitia', () => {
  it('passes when the variable holds the Space URL and health answers 200; fails otherwise', async () => {
    const statuses = [200, 503]
    const server = createServer((_req, res) => {
      res.writeHead(statuses.shift() ?? 500)
      res.end('ok')
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const healthUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`
    const variables = {
      readVariable: async (name: string) => (name === 'OLLAMA_BASE_URL' ? 'https://o-s.hf.space' : undefined),
    }
    try {
      const options = { expectedUrl: 'https://o-s.hf.space/', variable: 'OLLAMA_BASE_URL', healthUrl }
      const ok = await validateCognitia({ variables, logger: recordingLogger() }, options)
      expect(ok.passed).toBe(true)
      const down = await validateCognitia({ variables, logger: recordingLogger() }, options)
      expect(status(down)).toEqual({ 'railway-variable': 'pass', 'cognitia-health': 'fail' })
      const failing = { readVariable: async () => Promise.reject(new Error('Railway said 401')) }
      const unread = await validateCognitia(
        { variables: failing, logger: recordingLogger() },
        { ...options, healthUrl: undefined },
      )
      expect(unread.checks[0]).toMatchObject({ status: 'fail', observed: 'cannot read it: Railway said 401' })
      expect(status(unread)['cognitia-health']).toBe('skip')
    } finally {
      server.close()
    }
  })
})
