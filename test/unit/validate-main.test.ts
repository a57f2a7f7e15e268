import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as core from '@actions/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { fakeToken, type HfFake, startHfFake } from '../fakes/hf.js'
import { type FakeOllama, startFakeOllama } from '../fakes/ollama.js'
import { COGNITIA, cognitiaSeed, type RailwayFake, startRailwayFake } from '../fakes/railway.js'
import { answerInputs } from '../support/core-mock.js'

vi.mock('@actions/core', async (original) => (await import('../support/core-mock.js')).coreMock(original))

const { run } = await import('../../actions/validate/src/main.js')

const SPACE_URL = 'https://alice-zerollama.hf.space'
let inputs: Record<string, string> = {}
let dir = ''
const stops: (() => Promise<void>)[] = []
const defaults = {
  'require-gpu': 'true',
  'allow-paid-hardware': 'false',
  'report-only': 'false',
}

beforeEach(async () => {
  vi.clearAllMocks()
  dir = await mkdtemp(join(tmpdir(), 'validate-main-'))
  answerInputs(core, (name) => inputs[name])
})
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop()
  await rm(dir, { recursive: true, force: true })
  delete process.env.HF_ENDPOINT
  delete process.env.RAILWAY_API_URL
})

async function ollama(options: Parameters<typeof startFakeOllama>[0]): Promise<FakeOllama> {
  const fake = await startFakeOllama(options)
  stops.push(fake.stop)
  return fake
}

const outputs = () => Object.fromEntries(vi.mocked(core.setOutput).mock.calls.map(([k, v]) => [k, String(v)]))

describe('validate main, target space', () => {
  it('passes, writes the JSON report and the summary tables, masks the token first', async () => {
    const fake = await ollama({ pulled: ['phi3', 'qwen2.5:7b'], hfToken: 'hf_validate_secret' })
    const reportPath = join(dir, 'report.json')
    inputs = {
      ...defaults,
      'base-url': fake.url,
      'hf-token': 'hf_validate_secret',
      models: 'phi3, qwen2.5',
      'report-path': reportPath,
    }
    await run()
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(vi.mocked(core.setSecret).mock.calls[0]).toEqual(['hf_validate_secret'])
    expect(outputs()).toEqual({ 'report-path': reportPath, passed: 'true' })
    const report = JSON.parse(await readFile(reportPath, 'utf8'))
    expect(report.target).toBe('space')
    expect(report.models.map((m: { model: string }) => m.model)).toEqual(['phi3', 'qwen2.5:7b'])
    expect(report.cost.models.map((m: { model: string }) => m.model)).toEqual(['qwen2.5:7b', 'phi3'])
    expect(JSON.stringify(report)).not.toContain('hf_validate_secret')
    const headings = vi.mocked(core.summary.addHeading).mock.calls.map(([text]) => text)
    expect(headings[0]).toBe(`Validate: Space ${fake.url} — passed`)
    expect(headings).toContain('Per model')
    const checkTable = vi.mocked(core.summary.addTable).mock.calls[0]?.[0] ?? []
    expect(checkTable[0]).toEqual(
      ['Check', 'Result', 'Observed', 'Threshold', 'Next step'].map((data) => ({ data, header: true })),
    )
  })

  it('fails on a threshold with the list of failed checks, or only warns when report-only', async () => {
    const fake = await ollama({ pulled: ['phi3'], tokensPerSecond: 30 })
    inputs = { ...defaults, 'base-url': fake.url, models: 'phi3', 'report-path': join(dir, 'r.json') }
    await run()
    expect(outputs().passed).toBe('false')
    expect(vi.mocked(core.setFailed).mock.calls[0]?.[0]).toMatch(
      /^1 check\(s\) failed:\n- phi3 generation speed: 30.0 tokens\/s \(expected > 50 tokens\/s\)/,
    )
    vi.clearAllMocks()
    inputs = { ...inputs, 'report-only': 'true' }
    await run()
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(outputs().passed).toBe('false')
    expect(vi.mocked(core.warning).mock.calls.at(-1)?.[0]).toMatch(/report-only: not failing the step/)
  })

  it('reads the hardware from the Hub when space-id is given, and fails on paid hardware', async () => {
    const hf: HfFake = await startHfFake()
    stops.push(hf.close)
    const hub = (path: string, body: unknown) =>
      fetch(`${hf.url}${path}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${fakeToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      })
    await hub('/api/repos/create', { type: 'space', name: 'zerollama', sdk: 'gradio', visibility: 'private' })
    expect((await hub('/api/spaces/alice/zerollama/hardware', { flavor: 'a10g-small' })).status).toBe(200)
    process.env.HF_ENDPOINT = hf.url
    const fake = await ollama({ pulled: ['phi3'], hfToken: fakeToken })
    inputs = {
      ...defaults,
      'base-url': fake.url,
      'hf-token': fakeToken,
      'space-id': 'alice/zerollama',
      models: 'phi3',
      'report-path': join(dir, 'r.json'),
    }
    await run()
    expect(vi.mocked(core.setFailed).mock.calls[0]?.[0]).toMatch(
      /No paid hardware billed \(Hub runtime\): a10g-small \(\$1\/h\)/,
    )
    const report = JSON.parse(await readFile(join(dir, 'r.json'), 'utf8'))
    expect(report.runtime.hardware.requested).toBe('a10g-small')
  })

  it('refuses bad inputs with the input name', async () => {
    inputs = { ...defaults, 'base-url': 'https://o-s.hf.space', 'ttft-ms-max': '-5' }
    await run()
    expect(vi.mocked(core.setFailed).mock.calls[0]?.[0]).toMatch(/input ttft-ms-max must be a number from 1 to 600000/)
    inputs = { ...defaults, 'base-url': 'https://o-s.hf.space', target: 'railway' }
    await run()
    expect(vi.mocked(core.setFailed).mock.calls[1]?.[0]).toMatch(/input target must be one of space, cognitia; got/)
    inputs = { ...defaults, 'base-url': 'https://o-s.hf.space', target: 'cognitia' }
    await run()
    expect(vi.mocked(core.setFailed).mock.calls[2]?.[0]).toMatch(/target cognitia needs railway-token/)
  })
})

describe('validate main, target cognitia', () => {
  async function railway(url: string): Promise<RailwayFake> {
    const seed = cognitiaSeed()
    const cognitia = seed.variables.find((v) => v.serviceId === COGNITIA.cognitiaServiceId)
    if (cognitia) cognitia.values.OLLAMA_BASE_URL = url
    const fake = await startRailwayFake(seed)
    stops.push(fake.close)
    process.env.RAILWAY_API_URL = fake.url
    return fake
  }

  it('passes when the Railway variable holds the Space URL', async () => {
    await railway(SPACE_URL)
    inputs = {
      ...defaults,
      target: 'cognitia',
      'base-url': `${SPACE_URL}/`,
      'railway-token': COGNITIA.projectToken,
      'railway-token-kind': 'project',
      'report-path': join(dir, 'c.json'),
    }
    await run()
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(vi.mocked(core.setSecret).mock.calls[0]).toEqual([COGNITIA.projectToken])
    const report = JSON.parse(await readFile(join(dir, 'c.json'), 'utf8'))
    expect(report.checks.map((c: { id: string; status: string }) => [c.id, c.status])).toEqual([
      ['railway-variable', 'pass'],
      ['cognitia-health', 'skip'],
    ])
  })

  it('fails while Cognitia still points at the old Ollama', async () => {
    await railway(COGNITIA.ollamaUrl)
    inputs = {
      ...defaults,
      target: 'cognitia',
      'base-url': SPACE_URL,
      'railway-token': COGNITIA.projectToken,
      'report-path': join(dir, 'c.json'),
    }
    await run()
    expect(vi.mocked(core.setFailed).mock.calls[0]?.[0]).toMatch(
      /Cognitia's OLLAMA_BASE_URL points at the Space: http:\/\/ollama.railway.internal:11434 \(expected https:\/\/alice-zerollama.hf.space\)/,
    )
  })
})
