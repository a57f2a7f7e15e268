import { afterEach, describe, expect, it } from 'vitest'
import { recordingLogger } from '../../src/logger.js'
import { OllamaClient, type OllamaClientOptions } from '../../src/ollama/client.js'
import { summaryTables } from '../../src/validate/report.js'
import { type SpaceReport, type SpaceValidationOptions, validateSpace } from '../../src/validate/space.js'
import { parseZerollamaDiagnostics, ZerollamaDiagnosticsError } from '../../src/zerollama-diagnostics.js'
import { type FakeOllama, type FakeOllamaOptions, startFakeOllama } from '../fakes/ollama.js'

let fake: FakeOllama | undefined
afterEach(async () => {
  await fake?.stop()
  fake = undefined
})

const options: SpaceValidationOptions = {
  ttftMsMax: 1000,
  tokensPerSecondMin: 50,
  requiredModels: ['phi3', 'qwen2.5:7b'],
  requireGpu: true,
  allowPaidHardware: false,
  authExpected: true,
  monthlyTokens: 1_000_000,
}
const HF_TOKEN = 'hf_caller_token'

async function validate(
  fakeOptions: FakeOllamaOptions,
  client: Omit<OllamaClientOptions, 'baseUrl'> = { hfToken: HF_TOKEN },
): Promise<{ report: SpaceReport; lines: string[] }> {
  fake = await startFakeOllama({ pulled: ['phi3', 'qwen2.5:7b'], hfToken: client.hfToken, ...fakeOptions })
  const logger = recordingLogger()
  const report = await validateSpace({ client: new OllamaClient({ baseUrl: fake.url, ...client }), logger }, options)
  return { report, lines: logger.lines }
}

const zerogpuChecks = (report: SpaceReport) =>
  Object.fromEntries(report.checks.filter((c) => c.id.startsWith('zerogpu')).map((c) => [c.id, c.status]))
const check = (report: SpaceReport, id: string) => report.checks.find((c) => c.id === id)
/** The "ZeroGPU runtime (first deploy)" table as { question: [answer, next step] }. */
function runtimeTable(report: SpaceReport): Record<string, string[]> | undefined {
  const table = summaryTables(report).find((t) => t.title === 'ZeroGPU runtime (first deploy)')
  return table && Object.fromEntries(table.rows.map(([question = '', ...rest]) => [question, rest]))
}

describe('validate reads the ZeroGPU runtime (/api/zerollama/diagnostics)', () => {
  it('passes on ZeroGPU when the caller token reached the app, and answers the first-deploy questions', async () => {
    const { report, lines } = await validate({ diagnostics: { zerogpu: true } })
    expect(zerogpuChecks(report)).toEqual({
      'zerogpu-caller-billing': 'pass',
      'zerogpu-gpu-size': 'pass',
      'zerogpu-cold-start': 'pass',
      'zerogpu-decode-step': 'pass',
    })
    expect(check(report, 'zerogpu-decode-step')?.observed).toBe('cuda-graph, capture 0.40 s')
    expect(report.passed).toBe(true)
    expect(report.zerogpu?.packed.models).toEqual(['phi3', 'qwen2.5:7b'])
    expect(lines).toContain('group: ZeroGPU runtime')
    const table = runtimeTable(report)
    expect(table).toEqual({
      'ZeroGPU on?': ['on; spaces 0.51.3', ''],
      'Caller billing (X-IP-Token)': ["reached the app: GPU time billed to the caller's account", ''],
      'Node and duration factor': ['NVIDIA RTX PRO 6000 Blackwell Server Edition, ×1.5', ''],
      'Default GPU size': ['large', ''],
      'Duration per call (requested)': [
        '5–120 s, ×1.5: up to 180 s asked of the scheduler',
        expect.stringContaining('lower ZEROLLAMA_MAX_GPU_SECONDS'),
      ],
      'Packed models': [expect.stringMatching(/^phi3, qwen2\.5:7b \(\d+\.\d GB of 45\.1 GB before xlarge\)$/), ''],
      'Cold start of a new worker': ['measured 12.4 s, estimated 21.2 s', ''],
      'Decode step': ['cuda-graph, last capture 0.4 s', ''],
      'Measured tokens/s': ['qwen2.5:7b 80.0, phi3 80.0', ''],
    })
  })

  it('fails caller billing on ZeroGPU without an X-IP-Token, with the next step', async () => {
    // validate sent no HF token at all (a public Space with only the shared key)
    const unsent = await validate({ apiKey: 'shared-key', diagnostics: { zerogpu: true } }, { apiKey: 'shared-key' })
    expect(check(unsent.report, 'zerogpu-caller-billing')).toMatchObject({
      status: 'fail',
      observed: 'no X-IP-Token (validate sent no hf-token)',
      detail: expect.stringMatching(
        /Authorization: Bearer hf_….*X-HF-Authorization.*not the Space's small shared pool/,
      ),
    })
    expect(unsent.report.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(['zerogpu-caller-billing'])
    expect(unsent.report.passed).toBe(false)
    await fake?.stop()
    // the token was sent, but the platform did not turn it into a caller token
    const dropped = await validate({ diagnostics: { zerogpu: true, forwardsCallerToken: false } })
    const billing = check(dropped.report, 'zerogpu-caller-billing')
    expect(billing).toMatchObject({ status: 'fail', observed: 'no X-IP-Token' })
    expect(billing?.detail).toMatch(/try it as "X-HF-Authorization"/)
    expect(runtimeTable(dropped.report)?.['Caller billing (X-IP-Token)']).toEqual([
      "absent: GPU time drawn from the Space's shared pool",
      billing?.detail,
    ])
  })

  it('flags xlarge without failing, and fails a cold start slower than its estimate', async () => {
    const { report, lines } = await validate({
      diagnostics: { zerogpu: true, defaultSize: 'xlarge', coldStart: { estimatedSeconds: 10, measuredSeconds: 14.2 } },
    })
    expect(zerogpuChecks(report)).toEqual({
      'zerogpu-caller-billing': 'pass',
      'zerogpu-gpu-size': 'skip',
      'zerogpu-cold-start': 'fail',
      'zerogpu-decode-step': 'pass',
    })
    expect(check(report, 'zerogpu-gpu-size')?.detail).toMatch(/2× quota.*ZEROLLAMA_ALLOW_XLARGE/)
    expect(lines.some((l) => l.startsWith('warning: Default GPU size'))).toBe(true)
    const table = runtimeTable(report)
    expect(table?.['Cold start of a new worker']).toEqual([
      'measured 14.2 s, estimated 10.0 s',
      expect.stringContaining('lower ZEROLLAMA_COLD_COPY_GB_PER_SECOND'),
    ])
    expect(table?.['Default GPU size']?.[1]).toMatch(/ZEROLLAMA_ALLOW_XLARGE/)
  })

  it('informs without failing when the GPU worker stepped eagerly, or has not generated yet', async () => {
    const { report, lines } = await validate({
      diagnostics: { zerogpu: true, decode: { last_step: 'eager (static cache)', last_capture_seconds: null } },
    })
    expect(check(report, 'zerogpu-decode-step')).toMatchObject({
      status: 'skip',
      observed: 'eager (static cache)',
      detail: expect.stringMatching(/CUDA graph capture failed.*ZEROLLAMA_CUDA_GRAPHS=0/),
    })
    expect(report.passed).toBe(true)
    expect(lines.some((l) => l.startsWith('warning: Decode steps replayed as CUDA graphs'))).toBe(true)
    expect(runtimeTable(report)?.['Decode step']).toEqual([
      'eager (static cache)',
      check(report, 'zerogpu-decode-step')?.detail,
    ])
    await fake?.stop()
    const fresh = await validate({
      diagnostics: { zerogpu: true, decode: { last_step: null, last_capture_seconds: null } },
    })
    expect(check(fresh.report, 'zerogpu-decode-step')).toMatchObject({ status: 'skip', observed: 'no generation yet' })
  })

  it('skips the ZeroGPU checks off ZeroGPU (the local rehearsal), with the reason, and still passes', async () => {
    const { report } = await validate({})
    expect(zerogpuChecks(report)).toEqual({
      'zerogpu-caller-billing': 'skip',
      'zerogpu-gpu-size': 'skip',
      'zerogpu-cold-start': 'skip',
      'zerogpu-decode-step': 'skip',
    })
    expect(check(report, 'zerogpu-caller-billing')?.detail).toMatch(/not on ZeroGPU/)
    expect(report.passed).toBe(true)
    const table = runtimeTable(report)
    expect(table?.['ZeroGPU on?']).toEqual(['off (local rehearsal or dedicated hardware); spaces 0.51.3', ''])
    expect(table?.['Caller billing (X-IP-Token)']).toEqual(['n/a off ZeroGPU', ''])
    expect(table?.['Packed models']).toEqual(['none (0.0 GB)', ''])
  })

  it('reads a 404 (a real Ollama) as no diagnostics: no checks, no table, no failure', async () => {
    const { report, lines } = await validate({ diagnostics: false })
    expect(report.zerogpu).toBeNull()
    expect(zerogpuChecks(report)).toEqual({})
    expect(runtimeTable(report)).toBeUndefined()
    expect(report.passed).toBe(true)
    expect(lines).toContain('no /api/zerollama/diagnostics (HTTP 404): not a zerollama server, nothing to read')
  })

  it('fails a diagnostics answer that drifted from the contract, naming the field', async () => {
    fake = await startFakeOllama({ pulled: ['phi3', 'qwen2.5:7b'] })
    const drifted: typeof fetch = async (input, init) =>
      String(input).endsWith('/api/zerollama/diagnostics')
        ? Response.json({ zerogpu: 'yes' })
        : globalThis.fetch(input, init)
    const client = new OllamaClient({ baseUrl: fake.url, fetch: drifted })
    const report = await validateSpace({ client, logger: recordingLogger() }, { ...options, authExpected: false })
    expect(check(report, 'zerogpu-runtime')).toMatchObject({
      status: 'fail',
      observed: 'diagnostics: zerogpu should be boolean, got "yes"',
    })
    expect(report.zerogpu).toBeNull()
  })
})

describe('parseZerollamaDiagnostics', () => {
  it('names the nested field that is wrong', () => {
    const body = {
      zerogpu: true,
      spaces_version: '0.51.3',
      x_ip_token_present: false,
      gpu: { model: null, duration_factor: '1.5', xlarge_threshold_bytes: null, default_size: 'large' },
      durations: { min_seconds: 5, max_seconds: 120 },
      packed: { bytes: 0, models: [] },
      cold_start: { estimated_seconds: 0, last_measured_seconds: null },
      decode: { last_step: null, last_capture_seconds: null },
      models: [],
    }
    expect(() => parseZerollamaDiagnostics(body)).toThrow(ZerollamaDiagnosticsError)
    expect(() => parseZerollamaDiagnostics(body)).toThrow('gpu.duration_factor should be number or null, got "1.5"')
    const fixed = { ...body, gpu: { ...body.gpu, duration_factor: 1.5 } }
    expect(parseZerollamaDiagnostics(fixed).gpu.duration_factor).toBe(1.5)
    expect(() => parseZerollamaDiagnostics({ ...fixed, models: [{ name: 'phi3', loaded: 'no' }] })).toThrow(
      'models[0].loaded should be boolean',
    )
  })
})
