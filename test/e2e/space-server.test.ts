/**
 * The TypeScript client and the validate pipeline against the REAL Space server (space/, on CPU with the
 * tiny demo models), so the fake in test/fakes/ollama.ts cannot drift from what the server really sends.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveModels } from '../../src/catalog.js'
import { recordingLogger } from '../../src/logger.js'
import { OllamaApiError, OllamaClient } from '../../src/ollama/client.js'
import { pullModels } from '../../src/ollama/pull-models.js'
import type { ChatChunk, PullStatus } from '../../src/ollama/types.js'
import { validateSpace } from '../../src/validate/space.js'
import { fetchZerollamaCatalog } from '../../src/zerollama-catalog.js'
import { runAction } from '../support/run-action.js'

/** scripts/lib/space-server.mjs is plain JavaScript; this is the part of its interface used here. */
type StartSpaceServer = (options: { port: number; env: Record<string, string> }) => Promise<SpaceServer>
interface SpaceServer {
  url: string
  stop(): Promise<void>
}
const { startSpaceServer } = (await import(new URL('../../scripts/lib/space-server.mjs', import.meta.url).href)) as {
  startSpaceServer: StartSpaceServer
}

const KEY = 'space-e2e-shared-key'
let server: SpaceServer
let client: OllamaClient

beforeAll(async () => {
  server = await startSpaceServer({ port: 0, env: { ZEROLLAMA_API_KEY: KEY } })
  client = new OllamaClient({ baseUrl: server.url, apiKey: KEY, requestTimeoutMs: 60_000 })
  // The server answers GET / a moment before its API routes are attached; the actions wait the same way.
  await client.waitUntilReady({ timeoutMs: 60_000, intervalMs: 200 })
}, 180_000)
afterAll(async () => {
  await server?.stop()
})

describe('TypeScript client against the real Space server', () => {
  it('pulls a model to success and finds it in /api/tags', async () => {
    const statuses: PullStatus[] = []
    await client.pull('phi3:latest', (s) => statuses.push(s))
    expect(statuses[0]?.status).toBe('pulling manifest')
    expect(statuses.at(-1)?.status).toBe('success')
    expect((await client.tags()).map((t) => t.name)).toContain('phi3:latest')
  })

  it('pulls, lists and warms the defaults up through pullModels', async () => {
    const { pulled, failed } = await pullModels(client, resolveModels('qwen2.5:7b, phi3'), recordingLogger())
    expect(failed.map((f) => f.error.message)).toEqual([])
    expect(pulled.map((p) => p.model)).toEqual(['qwen2.5:7b', 'phi3'])
    expect(pulled.every((p) => p.warmupTokens > 0)).toBe(true)
  })

  it('reports an unknown pull as the server error line', async () => {
    const error = await client.pull('nope:1b', () => {}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OllamaApiError)
    expect((error as OllamaApiError).serverMessage).toMatch(/file does not exist/)
  })

  it('streams a chat: a message with a role on every chunk, timings and cost on the last', async () => {
    const chunks: ChatChunk[] = []
    for await (const chunk of client.chat({
      model: 'qwen2.5:7b',
      messages: [{ role: 'user', content: 'Hola' }],
      options: { num_predict: 8 },
    }))
      chunks.push(chunk)
    expect(chunks.length).toBeGreaterThan(1)
    expect(chunks.every((c) => c.message.role === 'assistant')).toBe(true)
    const final = chunks.at(-1)
    expect(final?.done).toBe(true)
    expect(final?.eval_count).toBeGreaterThan(0)
    expect(final?.eval_duration).toBeGreaterThan(0)
    expect(final?.zerollama?.gpu_seconds).toBeGreaterThan(0)
  })

  it('refuses a request without the shared key', async () => {
    expect(await client.statusWithoutAuth()).toBe(401)
  })

  it('serves a catalog the typed client accepts', async () => {
    const catalog = await fetchZerollamaCatalog(server.url, { headers: { 'X-API-Key': KEY } })
    expect(catalog.currency).toBe('COP')
    expect(catalog.models.map((m) => m.name)).toContain('qwen2.5:7b')
    expect(catalog.excluded.map((e) => e.name)).toContain('llama3.2:3b')
  })

  it('produces a complete validate report (CPU thresholds: no GPU here)', async () => {
    const report = await validateSpace(
      { client, logger: recordingLogger() },
      {
        ttftMsMax: 10_000,
        tokensPerSecondMin: 0.1,
        requiredModels: ['qwen2.5:7b', 'phi3'],
        requireGpu: false,
        allowPaidHardware: false,
        authExpected: true,
        monthlyTokens: 1_000_000,
      },
    )
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([])
    expect(report.models.map((m) => m.device)).toEqual(['cpu', 'cpu'])
    expect(report.cost?.models.map((m) => m.model)).toEqual(['qwen2.5:7b', 'phi3'])
  })

  it('runs the committed validate bundle against it; the GPU check fails on a CPU server', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'space-e2e-'))
    try {
      const reportPath = join(dir, 'report.json')
      const inputs = {
        'base-url': server.url,
        'api-key': KEY,
        models: 'phi3',
        'ttft-ms-max': '10000',
        'tokens-per-second-min': '0.1',
        'report-path': reportPath,
      }
      const run = await runAction('validate', inputs)
      expect(run.exitCode).toBe(1)
      expect(run.outputs.passed).toBe('false')
      const report = JSON.parse(await readFile(reportPath, 'utf8'))
      expect(
        report.checks.filter((c: { status: string }) => c.status === 'fail').map((c: { id: string }) => c.id),
      ).toEqual(['gpu'])
      expect(run.stdout.replace(`::add-mask::${KEY}`, '') + run.stderr + run.summary).not.toContain(KEY)
      const cpu = await runAction('validate', { ...inputs, 'require-gpu': 'false' })
      expect(cpu.exitCode, cpu.stdout).toBe(0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
