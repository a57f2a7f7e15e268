import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type FakeOllama, startFakeOllama } from '../fakes/ollama.js'
import { COGNITIA, cognitiaSeed, startRailwayFake } from '../fakes/railway.js'
import { runAction } from '../support/run-action.js'

const TOKEN = 'hf_e2e_validate_token_value'
const KEY = 'e2e-shared-key-value'
let fake: FakeOllama | undefined
let dir = ''
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'validate-dist-'))
})
afterEach(async () => {
  await fake?.stop()
  fake = undefined
  await rm(dir, { recursive: true, force: true })
})

/** Everything a run printed or wrote, minus the mask commands themselves. */
const captured = (run: Awaited<ReturnType<typeof runAction>>, report: string) =>
  run.stdout.replace(/::add-mask::.*\n/g, '') + run.stderr + run.summary + JSON.stringify(run.outputs) + report

describe('actions/validate/dist/index.mjs', () => {
  it('validates the Space with the action.yml defaults, writes the summary and the report', async () => {
    fake = await startFakeOllama({ pulled: ['qwen2.5:7b', 'phi3', 'codellama:7b'], hfToken: TOKEN, apiKey: KEY })
    const reportPath = join(dir, 'report.json')
    const run = await runAction('validate', {
      'base-url': fake.url,
      'hf-token': TOKEN,
      'api-key': KEY,
      'report-path': reportPath,
    })
    expect(run.exitCode, run.stdout + run.stderr).toBe(0)
    expect(run.outputs).toEqual({ 'report-path': reportPath, passed: 'true' })
    const report = await readFile(reportPath, 'utf8')
    const parsed = JSON.parse(report)
    expect(parsed.models.map((m: { model: string }) => m.model)).toEqual(['qwen2.5:7b', 'phi3', 'codellama:7b'])
    expect(parsed.checks.find((c: { id: string }) => c.id === 'auth').status).toBe('pass')
    expect(run.summary).toContain('Validate: Space')
    expect(run.summary).toMatch(/Costs \(COP at 3768.73 per USD/)
    expect(run.summary).toContain('Monthly estimate for 1,000,000 generated tokens')
    // the fake is off ZeroGPU by default: the runtime table is there, its checks skipped
    expect(run.summary).toContain('ZeroGPU runtime (first deploy)')
    expect(parsed.checks.find((c: { id: string }) => c.id === 'zerogpu-caller-billing').status).toBe('skip')
    expect(run.stdout).toContain(`::add-mask::${TOKEN}`)
    expect(run.stdout).toContain(`::add-mask::${KEY}`)
    expect(captured(run, report)).not.toContain(TOKEN)
    expect(captured(run, report)).not.toContain(KEY)
  })

  it('exits 1 when a threshold fails, and 0 with report-only', async () => {
    fake = await startFakeOllama({ pulled: ['phi3'], ttftMs: 300 })
    const inputs = { 'base-url': fake.url, models: 'phi3', 'ttft-ms-max': '200', 'report-path': join(dir, 'r.json') }
    const failing = await runAction('validate', inputs)
    expect(failing.exitCode).toBe(1)
    expect(failing.outputs.passed).toBe('false')
    expect(failing.stdout).toMatch(
      /::error::1 check\(s\) failed:%0A- phi3 time to first token \(warm\): \d+ ms \(expected < 200 ms\)/,
    )
    const reported = await runAction('validate', { ...inputs, 'report-only': 'true' })
    expect(reported.exitCode).toBe(0)
    expect(reported.outputs.passed).toBe('false')
    expect(reported.stdout).toMatch(/::warning::1 check\(s\) failed/)
  })

  it('checks the Cognitia side against the Railway fake', async () => {
    const seed = cognitiaSeed()
    const spaceUrl = 'https://acme-zerollama.hf.space'
    const cognitia = seed.variables.find((v) => v.serviceId === COGNITIA.cognitiaServiceId)
    if (cognitia) cognitia.values.OLLAMA_BASE_URL = spaceUrl
    const railway = await startRailwayFake(seed)
    try {
      const reportPath = join(dir, 'c.json')
      const run = await runAction(
        'validate',
        {
          target: 'cognitia',
          'base-url': spaceUrl,
          'railway-token': COGNITIA.accountToken,
          'railway-token-kind': 'account',
          'railway-project': 'cognitia',
          'report-path': reportPath,
        },
        { RAILWAY_API_URL: railway.url },
      )
      expect(run.exitCode, run.stdout + run.stderr).toBe(0)
      expect(run.outputs.passed).toBe('true')
      const report = await readFile(reportPath, 'utf8')
      expect(JSON.parse(report).target).toBe('cognitia')
      expect(captured(run, report)).not.toContain(COGNITIA.accountToken)
      expect(captured(run, report)).not.toContain(COGNITIA.databaseUrl)
    } finally {
      await railway.close()
    }
  })
})
