import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as core from '@actions/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { secretForms } from '../../src/secrets.js'
import { type FakeOllama, startFakeOllama } from '../fakes/ollama.js'
import { answerInputs } from '../support/core-mock.js'

vi.mock('@actions/core', async (original) => (await import('../support/core-mock.js')).coreMock(original))

const { run } = await import('../../actions/pull-models/src/main.js')

let fake: FakeOllama | undefined
let inputs: Record<string, string> = {}

beforeEach(() => {
  vi.clearAllMocks()
  answerInputs(core, (name) => inputs[name])
})
afterEach(async () => {
  await fake?.stop()
  fake = undefined
})

describe('pull-models main', () => {
  it('masks the tokens first, pulls, outputs the names and writes the summary', async () => {
    fake = await startFakeOllama({ hfToken: 'hf_pull_secret', apiKey: 'key_pull_secret' })
    inputs = {
      models: 'phi3 qwen2.5',
      'base-url': `${fake.url}/`,
      'hf-token': 'hf_pull_secret',
      'api-key': 'key_pull_secret',
    }
    await run()
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(vi.mocked(core.setSecret).mock.calls.map(([value]) => value)).toEqual(
      ['hf_pull_secret', 'key_pull_secret'].flatMap(secretForms),
    )
    expect(vi.mocked(core.setSecret).mock.invocationCallOrder[1]).toBeLessThan(
      vi.mocked(core.info).mock.invocationCallOrder[0] ?? Number.POSITIVE_INFINITY,
    )
    expect(vi.mocked(core.setOutput).mock.calls).toEqual([['models', 'phi3,qwen2.5:7b']])
    const rows = vi.mocked(core.summary.addTable).mock.calls[0]?.[0] ?? []
    expect(rows.slice(1).map((r) => (r as string[]).slice(0, 3))).toEqual([
      ['phi3', 'microsoft/Phi-3-mini-128k-instruct', '✅ ready'],
      ['qwen2.5:7b', 'Qwen/Qwen2.5-7B-Instruct', '✅ ready'],
    ])
    expect(core.summary.write).toHaveBeenCalledOnce()
  })

  it('fails naming the model page of a gated model, after pulling the others', async () => {
    fake = await startFakeOllama({ gated: { 'mistral:7b': 'stream' } })
    inputs = { models: 'mistral:7b, phi3', 'base-url': fake.url }
    await run()
    expect(vi.mocked(core.setOutput).mock.calls).toEqual([['models', 'phi3']])
    expect(vi.mocked(core.setFailed).mock.calls[0]?.[0]).toMatch(
      /^mistral:7b: .*accept its license at https:\/\/huggingface.co\/mistralai\/Mistral-7B-Instruct-v0.3/,
    )
  })

  it('rejects unknown model names with the catalog list, before any request', async () => {
    fake = await startFakeOllama()
    inputs = { models: 'phi3, llama2:70b', 'base-url': fake.url }
    await run()
    expect(vi.mocked(core.setFailed).mock.calls[0]?.[0]).toMatch(
      /Unknown model: llama2:70b\. The catalog .* has: qwen2.5:7b, phi3, codellama:7b, gemma2:9b, llama3.2:3b, mistral:7b/,
    )
    expect(fake.requests).toEqual([])
  })

  it('waits for the Space API only as long as its own timeout-minutes budget, not a fixed 5 minutes', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const { port } = closed.address() as AddressInfo
    await new Promise((resolve) => closed.close(resolve))
    inputs = { models: 'phi3', 'base-url': `http://127.0.0.1:${port}`, 'timeout-minutes': '0.05' }
    const started = Date.now()
    await run()
    expect(vi.mocked(core.setFailed).mock.calls[0]?.[0]).toMatch(/\/api\/version: not ready after \d+ s/)
    expect(Date.now() - started).toBeLessThan(20_000)
  }, 30_000)

  it('rejects a base-url that is not a URL, and a bad timeout', async () => {
    inputs = { 'base-url': 'owner/space' }
    await run()
    expect(vi.mocked(core.setFailed).mock.calls[0]?.[0]).toMatch(/base-url must be the Space API URL/)
    inputs = { 'base-url': 'https://o-s.hf.space', 'timeout-minutes': 'soon' }
    await run()
    expect(vi.mocked(core.setFailed).mock.calls[1]?.[0]).toMatch(
      /input timeout-minutes must be a number from 0.01 to 360, got "soon"/,
    )
  })
})
