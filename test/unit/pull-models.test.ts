import { afterEach, describe, expect, it } from 'vitest'
import { resolveModels, UnknownModelError } from '../../src/catalog.js'
import { recordingLogger } from '../../src/logger.js'
import { OllamaClient } from '../../src/ollama/client.js'
import { pullProgress } from '../../src/ollama/progress.js'
import { GatedModelError, pullModels } from '../../src/ollama/pull-models.js'
import { type FakeOllama, startFakeOllama } from '../fakes/ollama.js'

let fake: FakeOllama | undefined
afterEach(async () => {
  await fake?.stop()
  fake = undefined
})

const manualClock = () => {
  let now = 0
  return {
    now: () => now,
    sleep: async () => {},
    advance: (ms: number) => {
      now += ms
    },
  }
}

describe('pullProgress', () => {
  it('prints one line per step change and per 10 points, not one per status line', () => {
    const logger = recordingLogger()
    const clock = manualClock()
    const progress = pullProgress('phi3', logger, { clock, stepPercent: 10, intervalMs: 10_000 })
    progress.onStatus({ status: 'pulling manifest' })
    for (let completed = 0; completed <= 1e9; completed += 5e6) {
      progress.onStatus({ status: 'pulling a', total: 1e9, completed })
      clock.advance(10)
    }
    progress.onStatus({ status: 'success' })
    // manifest + 0%,10%,…,100% (11 lines) + success, out of 203 status lines
    expect(progress.lines()).toBe(13)
    expect(logger.lines).toContain('phi3: pulling a 50% (500 MB / 1.0 GB)')
    expect(logger.lines.at(-2)).toBe('phi3: pulling a 100% (1.0 GB / 1.0 GB)')
  })

  it('prints a slow step every interval even when it advanced less than the step', () => {
    const logger = recordingLogger()
    const clock = manualClock()
    const progress = pullProgress('qwen2.5:7b', logger, { clock, stepPercent: 10, intervalMs: 1000 })
    const total = 15_000_000_000
    for (let i = 0; i <= 30; i++) {
      progress.onStatus({ status: 'pulling b', total, completed: (total * i) / 1000 }) // 0.1 % per line
      clock.advance(500)
    }
    // first line, then one per second (every second status line) while the percent moves: 0→3 %
    expect(logger.lines.filter((l) => l.startsWith('qwen2.5:7b: pulling b'))).toEqual([
      'qwen2.5:7b: pulling b 0% (0 MB / 15.0 GB)',
      'qwen2.5:7b: pulling b 1% (150 MB / 15.0 GB)',
      'qwen2.5:7b: pulling b 2% (300 MB / 15.0 GB)',
      'qwen2.5:7b: pulling b 3% (450 MB / 15.0 GB)',
    ])
  })
})

describe('pullModels', () => {
  it('pulls, confirms with /api/tags and warms each model up, with throttled progress', async () => {
    fake = await startFakeOllama({ pullSteps: 200 })
    const logger = recordingLogger()
    const client = new OllamaClient({ baseUrl: fake.url })
    const { pulled: results, failed } = await pullModels(client, resolveModels('phi3, codellama:7b'), logger)
    expect(failed).toEqual([])
    expect(results.map((r) => r.model)).toEqual(['phi3', 'codellama:7b'])
    expect(results.every((r) => r.warmupTokens > 0)).toBe(true)
    // 2 files × 201 status lines each per model, but only a handful of log lines
    for (const r of results) expect(r.progressLines).toBeLessThanOrEqual(30)
    expect([...fake.pulled].sort()).toEqual(['codellama:7b', 'phi3'])
    expect(fake.requests.filter((r) => r.path === '/api/generate')).toHaveLength(2)
    expect(logger.lines).toContain('group: Pull phi3 (microsoft/Phi-3-mini-128k-instruct)')
  })

  it.each(['status', 'stream'] as const)('names the model page of a gated model refused (%s)', async (mode) => {
    fake = await startFakeOllama({ gated: { 'gemma2:9b': mode } })
    const logger = recordingLogger()
    const client = new OllamaClient({ baseUrl: fake.url })
    const { pulled, failed } = await pullModels(client, resolveModels('gemma2:9b phi3'), logger)
    expect(pulled.map((p) => p.model)).toEqual(['phi3'])
    expect(failed.map((f) => f.model)).toEqual(['gemma2:9b'])
    const error = failed[0]?.error
    expect(error).toBeInstanceOf(GatedModelError)
    expect((error as GatedModelError).modelPage).toBe('https://huggingface.co/google/gemma-2-9b-it')
    expect((error as Error).message).toMatch(
      /gemma2:9b is gated.*accept its license at https:\/\/huggingface.co\/google\/gemma-2-9b-it/,
    )
    expect(logger.lines).toContain("gemma2:9b is gated (auto): the Space's HF account must have accepted its license")
    expect(fake.pulled.has('gemma2:9b')).toBe(false)
  })

  it('does not call a plain server error a gated model', async () => {
    fake = await startFakeOllama()
    await fake.stop()
    const client = new OllamaClient({ baseUrl: fake.url, retry: { attempts: 1 } })
    const { failed } = await pullModels(client, resolveModels('phi3'), recordingLogger())
    const error = failed[0]?.error
    expect(error).not.toBeInstanceOf(GatedModelError)
    expect((error as Error).message).toMatch(/cannot reach/)
    fake = undefined
  })

  it('lists the catalog names when a requested model is unknown', () => {
    expect(() => resolveModels('qwen2.5:7b, llama2:13b')).toThrow(UnknownModelError)
    expect(() => resolveModels('llama2:13b')).toThrow(
      /Unknown model: llama2:13b\. The catalog \(space\/models.json\) has: qwen2.5:7b, phi3, codellama:7b, gemma2:9b, llama3.2:3b, mistral:7b/,
    )
  })
})
