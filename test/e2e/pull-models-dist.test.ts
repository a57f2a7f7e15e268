import { afterEach, describe, expect, it } from 'vitest'
import { type FakeOllama, startFakeOllama } from '../fakes/ollama.js'
import { runAction } from '../support/run-action.js'

let fake: FakeOllama | undefined
afterEach(async () => {
  await fake?.stop()
  fake = undefined
})

const TOKEN = 'hf_e2e_pull_token_value'

describe('actions/pull-models/dist/index.mjs', () => {
  it('pulls the default models with the action.yml defaults and masks the token', async () => {
    fake = await startFakeOllama({ hfToken: TOKEN, pullSteps: 100 })
    const result = await runAction('pull-models', { 'base-url': fake.url, 'hf-token': TOKEN })
    expect(result.exitCode, result.stdout + result.stderr).toBe(0)
    expect(result.outputs.models).toBe('qwen2.5:7b,phi3,codellama:7b')
    expect([...fake.pulled].sort()).toEqual(['codellama:7b', 'phi3', 'qwen2.5:7b'])
    expect(result.stdout).toContain('::group::Pull qwen2.5:7b (Qwen/Qwen2.5-7B-Instruct)')
    expect(result.stdout).toMatch(/qwen2.5:7b: pulling 0123456789ab 50% \(2.0 GB \/ 4.0 GB\)/)
    // progress is throttled: far fewer lines than the 606 status lines per model
    expect(result.stdout.split('\n').filter((l) => l.startsWith('phi3: pulling')).length).toBeLessThan(30)
    expect(result.summary).toContain('Models pulled into the Space')
    expect(result.summary).toContain('codellama/CodeLlama-7b-Instruct-hf')
    expect(result.stdout).toContain(`::add-mask::${TOKEN}`)
    const everything = result.stdout.replace(`::add-mask::${TOKEN}`, '') + result.stderr + result.summary
    expect(everything).not.toContain(TOKEN)
    expect(JSON.stringify(result.outputs)).not.toContain(TOKEN)
  })

  it('exits 1 with the model page of a gated model and the catalog list for unknown names', async () => {
    fake = await startFakeOllama({ gated: { 'gemma2:9b': 'status' } })
    const gated = await runAction('pull-models', { 'base-url': fake.url, models: 'gemma2:9b' })
    expect(gated.exitCode).toBe(1)
    expect(gated.stdout).toMatch(/::error::gemma2:9b: .*https:\/\/huggingface.co\/google\/gemma-2-9b-it/)
    const unknown = await runAction('pull-models', { 'base-url': fake.url, models: 'llama2' })
    expect(unknown.exitCode).toBe(1)
    expect(unknown.stdout).toMatch(/::error::Unknown model: llama2\. The catalog .* has: qwen2.5:7b, phi3/)
  })

  it('fails when base-url is missing', async () => {
    const result = await runAction('pull-models', {})
    expect(result.exitCode).toBe(1)
    expect(result.stdout).toContain('::error::Input required and not supplied: base-url')
  })
})
