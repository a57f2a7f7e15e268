/**
 * The pipeline after create-endpoint, unchanged but for the endpoint's URL: validate measures the Ollama
 * behind it and prices the endpoint ($/h × hours awake, in COP) from the Endpoints API fake; the Space's
 * break-even advice shows in validate's summary; switch-railway points Cognitia at the endpoint URL and a
 * rollback without any URL given still recognises it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as core from '@actions/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { EndpointsClient } from '../../src/hf/endpoints.js'
import { recordingLogger } from '../../src/logger.js'
import { formatCop } from '../../src/zerollama-catalog.js'
import { type EndpointsFake, fakeEndpointsToken, startEndpointsFake } from '../fakes/hf-endpoints.js'
import { type FakeOllama, startFakeOllama } from '../fakes/ollama.js'
import { COGNITIA, type RailwayFake, startRailwayFake } from '../fakes/railway.js'
import { answerInputs } from '../support/core-mock.js'
import { runAction } from '../support/run-action.js'

vi.mock('@actions/core', async (original) => (await import('../support/core-mock.js')).coreMock(original))

const { run } = await import('../../actions/validate/src/main.js')

const RATE = 3768.73
const stops: (() => Promise<void>)[] = []
let inputs: Record<string, string> = {}
let dir = ''

beforeEach(async () => {
  vi.clearAllMocks()
  dir = await mkdtemp(join(tmpdir(), 'validate-endpoint-'))
  answerInputs(core, (name) => inputs[name])
})

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop()
  await rm(dir, { recursive: true, force: true })
  delete process.env.HF_ENDPOINTS_API_URL
})

/** A running endpoint whose URL is a local Ollama stand-in, created through the API like create-endpoint does. */
async function endpointServing(
  ollama: FakeOllama,
  scaling: { min: number; max: number; toZero: number | null },
): Promise<EndpointsFake> {
  const fake = await startEndpointsFake({ initializingPolls: 0, urlFor: () => ollama.url })
  stops.push(fake.close)
  process.env.HF_ENDPOINTS_API_URL = fake.url
  const client = new EndpointsClient({ token: fakeEndpointsToken, apiUrl: fake.url, logger: recordingLogger() })
  await client.create({
    namespace: 'cognitia',
    name: 'zerollama',
    vendor: 'aws',
    region: 'us-east-1',
    accelerator: 'gpu',
    instanceType: 'nvidia-l40s',
    instanceSize: 'x1',
    minReplica: scaling.min,
    maxReplica: scaling.max,
    scaleToZeroTimeout: scaling.toZero,
    type: 'authenticated',
    repository: 'hf-internal-testing/tiny-random-gpt2',
    image: { url: 'ollama/ollama@sha256:0', healthRoute: '/api/version', port: 11434 },
    command: [],
    env: {},
  })
  return fake
}

async function ollama(options: Parameters<typeof startFakeOllama>[0] = {}): Promise<FakeOllama> {
  const fake = await startFakeOllama({ pulled: ['phi3'], diagnostics: false, ...options })
  stops.push(fake.stop)
  return fake
}

async function report() {
  return JSON.parse(await readFile(join(dir, 'r.json'), 'utf8'))
}

const headings = () => vi.mocked(core.summary.addHeading).mock.calls.map(([text]) => String(text))
const tableRows = () => vi.mocked(core.summary.addTable).mock.calls.map(([rows]) => rows)

describe('validate on an Inference Endpoint URL', () => {
  it('measures the Ollama behind it and prices the endpoint at $/h × hours awake, in COP', async () => {
    const server = await ollama({ hfToken: fakeEndpointsToken })
    await endpointServing(server, { min: 1, max: 2, toZero: null })
    inputs = {
      'base-url': server.url,
      'hf-token': fakeEndpointsToken,
      endpoint: 'cognitia/zerollama',
      models: 'phi3',
      'allow-paid-hardware': 'true',
      'report-path': join(dir, 'r.json'),
    }
    await run()
    expect(vi.mocked(core.setFailed).mock.calls).toEqual([])
    const r = await report()
    expect(r.endpointCost).toMatchObject({
      instance: 'aws-nvidia-l40s-x1',
      usdPerHour: 1.8,
      minReplica: 1,
      maxReplica: 2,
      awakeHoursPerDay: 24,
    })
    expect(r.endpointCost.perDayCop).toBeCloseTo(1.8 * 24 * RATE)
    expect(r.endpointCost.perMonthCop).toBeCloseTo(1.8 * 24 * 30 * RATE)
    expect(r.checks.find((c: { id: string }) => c.id === 'hardware-billing')).toMatchObject({
      status: 'pass',
      title: 'No paid hardware billed (Inference Endpoint)',
    })
    expect(headings()[0]).toBe(`Validate: Inference Endpoint ${server.url} — passed`)
    expect(headings().some((h) => h.startsWith('Inference Endpoint costs (COP at 3768.73'))).toBe(true)
    const costs = tableRows().at(-1) ?? []
    expect(costs).toContainEqual(['Per day', formatCop(1.8 * 24 * RATE)])
    expect(formatCop(1.8 * 24 * RATE).replace(/\s/g, ' ')).toBe('$ 162.809')
  })

  it('a scale-to-zero endpoint costs the hours it is awake; paid hardware fails unless allowed', async () => {
    const server = await ollama({ hfToken: fakeEndpointsToken })
    await endpointServing(server, { min: 0, max: 1, toZero: 15 })
    inputs = {
      'base-url': server.url,
      'hf-token': fakeEndpointsToken,
      endpoint: 'cognitia/zerollama',
      'awake-hours-per-day': '6',
      models: 'phi3',
      'report-path': join(dir, 'r.json'),
    }
    await run()
    const r = await report()
    expect(r.endpointCost.awakeHoursPerDay).toBe(6)
    expect(r.endpointCost.perDayCop).toBeCloseTo(1.8 * 6 * RATE)
    expect(r.checks.find((c: { id: string }) => c.id === 'hardware-billing')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('allow-paid-hardware: true'),
    })
    expect(vi.mocked(core.setFailed).mock.calls[0]?.[0]).toContain('No paid hardware billed (Inference Endpoint)')
  })

  it('an endpoint that cannot be read fails the billing check with what to do', async () => {
    const server = await ollama({ hfToken: fakeEndpointsToken })
    await endpointServing(server, { min: 1, max: 1, toZero: null })
    inputs = {
      'base-url': server.url,
      'hf-token': fakeEndpointsToken,
      endpoint: 'cognitia/missing',
      models: 'phi3',
      'allow-paid-hardware': 'true',
      'report-path': join(dir, 'r.json'),
    }
    await run()
    const billing = (await report()).checks.find((c: { id: string }) => c.id === 'hardware-billing')
    expect(billing).toMatchObject({ status: 'fail', observed: 'cognitia/missing does not exist' })
  })
})

describe("the Space's break-even advice in validate", () => {
  it('shows replies a day, both costs, the break-even and the verdict', async () => {
    const advice = {
      instance: 'aws-nvidia-l4-x1',
      instance_label: 'AWS 1x NVIDIA L4',
      usd_per_hour: 0.8,
      awake_hours_per_day: 24,
      endpoint_cop_per_day: 72359.62,
      replies_per_day: 1800,
      measured_hours: 2,
      quota_seconds_per_reply: 10,
      basis: 'measured',
      zerogpu_cop_per_day: 97990.98,
      break_even_replies_per_day: 1392,
      quota_replies_per_day: 240,
      endpoint_cheaper: true,
    }
    const server = await ollama({ endpointAdvice: advice, tokensPerSecond: 80, device: 'gpu' })
    inputs = { 'base-url': server.url, models: 'phi3', 'report-path': join(dir, 'r.json') }
    await run()
    expect((await report()).endpointAdvice).toEqual(advice)
    expect(headings()).toContain('ZeroGPU or an Inference Endpoint')
    const rows = tableRows().find((t) => JSON.stringify(t).includes('Break-even')) ?? []
    expect(rows).toContainEqual(['Break-even', '1,392 replies a day'])
    expect(rows).toContainEqual(['Replies', '1,800 a day (last 2 h through the Space)'])
    expect(rows).toContainEqual(['Verdict', 'the endpoint is cheaper: move to it (docs/runbook.md §9)'])
    expect(vi.mocked(core.info).mock.calls.map(([m]) => m)).toContain(
      '1800 replies a day measured; an AWS 1x NVIDIA L4 endpoint ($0.8/h, 24 h a day) is cheaper than ZeroGPU credits past 1392 replies a day: move to it (docs/runbook.md §9)',
    )
  })
})

describe('switch-railway on the endpoint URL', () => {
  let railway: RailwayFake
  beforeEach(async () => {
    railway = await startRailwayFake()
  })
  afterEach(async () => {
    await railway.close()
  })

  it('switches Cognitia to it, and a rollback given no URL recognises it and restores the recorded one', async () => {
    const endpointUrl = 'https://x1y2z3.us-east-1.aws.endpoints.huggingface.cloud'
    const base = { 'railway-token': COGNITIA.projectToken, 'github-token': '', 'poll-interval-seconds': '0' }
    const env = { RAILWAY_API_URL: railway.url }
    const switched = await runAction(
      'switch-railway',
      { ...base, mode: 'switch', 'space-url': endpointUrl, 'hf-token': fakeEndpointsToken },
      env,
    )
    expect(switched.exitCode, switched.output).toBe(0)
    expect(railway.state.variablesOf('cognitia')).toMatchObject({
      OLLAMA_BASE_URL: endpointUrl,
      ZEROLLAMA_PREVIOUS_OLLAMA_BASE_URL: COGNITIA.ollamaUrl,
    })
    const back = await runAction('switch-railway', { ...base, mode: 'rollback' }, env)
    expect(back.exitCode, back.output).toBe(0)
    expect(railway.state.variablesOf('cognitia').OLLAMA_BASE_URL).toBe(COGNITIA.ollamaUrl)
  })
})
