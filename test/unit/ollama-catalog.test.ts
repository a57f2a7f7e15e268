import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { OllamaClient } from '../../src/ollama/client.js'
import { fetchZerollamaCatalog, formatCop, ZerollamaCatalogError } from '../../src/zerollama-catalog.js'
import { type FakeOllama, startFakeOllama } from '../fakes/ollama.js'

/** The peso format both languages share (space/tests/test_catalog.py reads the same list). */
const copCases = (
  JSON.parse(readFileSync(new URL('../fixtures/cop-format.json', import.meta.url), 'utf8')) as {
    cases: { cop: number; text: string }[]
  }
).cases

let fake: FakeOllama | undefined
afterEach(async () => {
  await fake?.stop()
  fake = undefined
})

describe('zerollama catalog client', () => {
  it('fetches the curated models in display order with their COP figures', async () => {
    fake = await startFakeOllama({ pulled: ['phi3'], hfToken: 'hf_cognitia' })
    const catalog = await fetchZerollamaCatalog(`${fake.url}/`, { headers: { Authorization: 'Bearer hf_cognitia' } })
    expect(catalog.currency).toBe('COP')
    expect(catalog.models.map((m) => m.name)).toEqual(['qwen2.5:7b', 'phi3', 'codellama:7b', 'gemma2:9b', 'mistral:7b'])
    expect(catalog.excluded.map((e) => e.name)).toEqual(['llama3.2:3b'])
    const phi3 = catalog.models[1]
    expect(phi3?.cost?.basis).toBe('measured')
    expect(phi3?.cost?.over_quota_per_1k_tokens_cop).toBeGreaterThan(0)
    // the pipeline's client reads the same thing
    const viaClient = await new OllamaClient({ baseUrl: fake.url, hfToken: 'hf_cognitia' }).catalog()
    expect(viaClient.models.map((m) => m.name)).toEqual(catalog.models.map((m) => m.name))
  })

  it('throws a catalog error with the status when the Space refuses', async () => {
    fake = await startFakeOllama({ hfToken: 'hf_cognitia' })
    const error = await fetchZerollamaCatalog(fake.url).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ZerollamaCatalogError)
    expect((error as Error).message).toMatch(/HTTP 401/)
  })

  it.each(copCases)('formats $cop pesos the Colombian way, as the Space page does', ({ cop, text }) => {
    expect(formatCop(cop)).toBe(text)
  })
})
