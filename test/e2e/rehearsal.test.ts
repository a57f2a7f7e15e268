/**
 * `npm start` end to end: the rehearsal runs the committed bundles against the HF fake, the Railway
 * fake and the real space/ server on CPU, and must exit 0 with Cognitia back on Railway Ollama.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { fakeToken } from '../fakes/hf.js'
import { COGNITIA } from '../fakes/railway.js'

const OLLAMA_V2 = 'http://ollama-v2.railway.internal:11434'
const root = new URL('../../', import.meta.url).pathname

function rehearse(reportPath: string, extra: string[] = []): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', 'scripts/rehearse.ts', '--report', reportPath, ...extra]
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, ZEROLLAMA_DEBUG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? 1, output }))
  })
}

it('rehearses the whole migration and ends back on Railway Ollama', { timeout: 300_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rehearsal-'))
  try {
    const { code, output } = await rehearse(join(dir, 'report.json'))
    expect(code, output).toBe(0)
    const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8'))
    expect(report.ok).toBe(true)
    expect(report.problems).toEqual([])
    expect(report.phases.map((p: { phase: string; result: string }) => `${p.phase}:${p.result}`)).toEqual([
      'create-space:ok',
      'pull-models:ok',
      'validate:ok',
      'gate production:ok',
      'switch:ok',
      'validate-cognitia:ok',
      'gate decommission:ok',
      'decommission:ok',
      'rollback:ok',
      'switch again:ok',
      'rollback again:ok',
    ])
    // The second cycle started from another Ollama: the record holds it, not the first cycle's URL.
    expect(report.railway).toEqual({
      ollamaBaseUrl: OLLAMA_V2,
      previousUrl: OLLAMA_V2,
      ollamaRunning: true,
      cognitiaRunning: true,
    })
    // Each validated model shows its figures in the closing table.
    for (const model of ['qwen2.5:7b', 'phi3', 'codellama:7b']) {
      expect(output).toMatch(new RegExp(`${model.replace('.', '\\.')}: TTFT \\d+ ms, [\\d.]+ tok/s, cpu`))
    }
    expect(output.match(/approved for this rehearsal/g)).toHaveLength(2)
    expect(output).toContain(
      'OLLAMA_BASE_URL: http://ollama.railway.internal:11434 → https://cognitia-zerollama.hf.space',
    )
    expect(output).toContain(`ZEROLLAMA_PREVIOUS_OLLAMA_BASE_URL: ${COGNITIA.ollamaUrl} → ${OLLAMA_V2}`)
    expect(output).toMatch(/rehearsal passed in \d+\.\d s/)
    // The log reads as GitHub would show it (every ::add-mask:: applied): no token, no credential-looking
    // variable, yet a plain value such as NODE_ENV=production does not hide the environment's name.
    const secrets = [fakeToken, COGNITIA.projectToken, COGNITIA.databaseUrl, COGNITIA.sessionSecret, 'pg-s3cret-4d1f']
    for (const secret of secrets) expect(output).not.toContain(secret)
    expect(output).toContain('Plan for cognitia in cognitia / production:')
    expect(output).not.toContain('cognitia / ***')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

it('rehearses the migration to an Inference Endpoint (--target endpoint) and rolls it back', {
  timeout: 300_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rehearsal-endpoint-'))
  try {
    const { code, output } = await rehearse(join(dir, 'report.json'), ['--target', 'endpoint'])
    expect(code, output).toBe(0)
    const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8'))
    expect(report.problems).toEqual([])
    expect(report.phases.map((p: { phase: string }) => p.phase).slice(0, 3)).toEqual([
      'create-endpoint',
      'pull-models',
      'validate',
    ])
    const endpointUrl = 'https://cognitia-zerollama.us-east-1.aws.endpoints.huggingface.cloud'
    expect(output).toContain(`OLLAMA_BASE_URL: http://ollama.railway.internal:11434 → ${endpointUrl}`)
    // validate prices the endpoint it was given (the default instance, always on) in COP.
    expect(output).toContain('No paid hardware billed (Inference Endpoint)')
    expect(output).toContain('Inference Endpoint costs (COP at')
    expect(report.railway.ollamaBaseUrl).toBe(OLLAMA_V2)
    expect(output).not.toContain(fakeToken)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
