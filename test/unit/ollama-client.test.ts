import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { OllamaApiError, OllamaClient } from '../../src/ollama/client.js'
import type { PullStatus } from '../../src/ollama/types.js'
import { type FakeOllama, startFakeOllama } from '../fakes/ollama.js'

const noWait = { attempts: 2, baseDelayMs: 1, clock: { now: () => 0, sleep: async () => {} } }
let fake: FakeOllama | undefined

afterEach(async () => {
  await fake?.stop()
  fake = undefined
})

describe('OllamaClient against the fake Space', () => {
  it('streams a pull to success, lists the model, and generates with timing fields', async () => {
    fake = await startFakeOllama({ pullSteps: 4, splitLines: true })
    const client = new OllamaClient({ baseUrl: `${fake.url}/` })
    const statuses: PullStatus[] = []
    await client.pull('phi3:latest', (s) => statuses.push(s))
    expect(statuses.at(0)).toEqual({ status: 'pulling manifest' })
    expect(statuses.at(-1)).toEqual({ status: 'success' })
    // 2 files × 5 lines; the first line of each file has no `completed` yet, as the server sends it
    expect(statuses.filter((s) => s.total !== undefined)).toHaveLength(10)
    expect(statuses.filter((s) => s.completed !== undefined)).toHaveLength(8)
    expect((await client.tags()).map((t) => t.name)).toEqual(['phi3:latest'])

    const chunks = []
    for await (const chunk of client.generate({ model: 'phi3', prompt: 'Hi', options: { num_predict: 11 } }))
      chunks.push(chunk)
    expect(chunks.map((c) => c.response).join('')).toBe('The sky is blue because of Rayleigh scattering — ñandú.')
    const final = chunks.at(-1)
    expect(final?.done).toBe(true)
    expect(final?.eval_count).toBe(11)
    expect(final?.zerollama?.gpu_seconds).toBeGreaterThan(0)
  })

  it('streams a chat with a message on every chunk', async () => {
    fake = await startFakeOllama({ pulled: ['qwen2.5:7b'] })
    const client = new OllamaClient({ baseUrl: fake.url })
    const text: string[] = []
    for await (const chunk of client.chat({ model: 'qwen2.5:7b', messages: [{ role: 'user', content: 'Hi' }] }))
      text.push(chunk.message.content)
    expect(text.join('')).toContain('Rayleigh')
  })

  it('sends the HF token as a Bearer header and the shared key in its own header', async () => {
    fake = await startFakeOllama({ hfToken: 'hf_private', apiKey: 'shared-key' })
    const both = new OllamaClient({ baseUrl: fake.url, hfToken: 'hf_private', apiKey: 'shared-key' })
    expect(both.authHeaders()).toEqual({ Authorization: 'Bearer hf_private', 'X-API-Key': 'shared-key' })
    expect(await both.version()).toBe('0.0.0-fake')
    expect(new OllamaClient({ baseUrl: fake.url, apiKey: 'k' }).authHeaders()).toEqual({ 'X-API-Key': 'k' })
    expect(await both.statusWithoutAuth()).toBe(401)
  })

  it('turns a 401 into an error that says which credential to pass, without the token', async () => {
    fake = await startFakeOllama({ hfToken: 'hf_secret_value' })
    const client = new OllamaClient({ baseUrl: fake.url, hfToken: 'hf_wrong_value', retry: noWait })
    const error = await client.tags().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OllamaApiError)
    expect((error as OllamaApiError).status).toBe(401)
    expect((error as Error).message).toMatch(/Invalid credentials.*pass hf-token/)
    expect((error as Error).message).not.toMatch(/hf_wrong_value|hf_secret_value/)
  })

  it('reports a 404 for an unpulled model with the server message', async () => {
    fake = await startFakeOllama()
    const client = new OllamaClient({ baseUrl: fake.url })
    const run = async () => {
      for await (const _ of client.generate({ model: 'phi3', prompt: 'Hi' })) {
      }
    }
    await expect(run()).rejects.toMatchObject({
      status: 404,
      serverMessage: "model 'phi3' not found, try pulling it first",
    })
  })

  it('raises an error line inside a stream as an OllamaApiError', async () => {
    fake = await startFakeOllama({ gated: { 'gemma2:9b': 'stream' } })
    const client = new OllamaClient({ baseUrl: fake.url })
    await expect(client.pull('gemma2:9b', () => {})).rejects.toMatchObject({
      name: 'OllamaApiError',
      serverMessage: 'google/gemma-2-9b-it is gated: accept its terms on huggingface.co and give the Space an HF_TOKEN',
    })
  })

  it('retries a read after a 503 honouring Retry-After, then succeeds', async () => {
    let calls = 0
    const server = createServer((_req, res) => {
      calls++
      if (calls === 1) {
        res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '7' })
        return res.end('{"error":"No GPU was available after 60s"}')
      }
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end('{"models":[]}')
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const waits: number[] = []
    const client = new OllamaClient({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      retry: {
        clock: {
          now: () => 0,
          sleep: async (ms) => {
            waits.push(ms)
          },
        },
      },
    })
    try {
      expect(await client.ps()).toEqual([])
      expect(calls).toBe(2)
      expect(waits).toEqual([7000])
    } finally {
      server.close()
    }
  })

  it('gives up on a stream that goes silent, after the idle limit', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' })
      res.write('{"status":"pulling manifest"}\n') // then nothing
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const client = new OllamaClient({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      idleTimeoutMs: 100,
    })
    try {
      await expect(client.pull('phi3', () => {})).rejects.toThrow(/no data for 0.1 s/)
    } finally {
      server.closeAllConnections()
      server.close()
    }
  })

  it('gives up when the server never answers, within the request limit', async () => {
    const server = createServer(() => {})
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const client = new OllamaClient({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      requestTimeoutMs: 100,
      retry: noWait,
    })
    try {
      await expect(client.version()).rejects.toThrow(/no answer within 0.1 s/)
    } finally {
      server.closeAllConnections()
      server.close()
    }
  })

  it('waits for the API routes of a Space that is still starting', async () => {
    let calls = 0
    const server = createServer((_req, res) => {
      calls++
      const ready = calls > 2
      res.writeHead(ready ? 200 : 404, { 'Content-Type': 'application/json' })
      res.end(ready ? '{"version":"0.1.0"}' : '{"detail":"Not Found"}')
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const client = new OllamaClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })
    try {
      expect(await client.waitUntilReady({ timeoutMs: 5000, intervalMs: 10 })).toBe('0.1.0')
      expect(calls).toBe(3)
    } finally {
      server.close()
    }
  })

  it('stops waiting at once on refused credentials, and names the last answer on timeout', async () => {
    fake = await startFakeOllama({ hfToken: 'hf_right' })
    const refused = new OllamaClient({ baseUrl: fake.url, hfToken: 'hf_wrong' })
    await expect(refused.waitUntilReady({ timeoutMs: 60_000 })).rejects.toMatchObject({ status: 401 })
    let now = 0
    const clock = {
      now: () => now,
      sleep: async (ms: number) => {
        now += ms
      },
    }
    const down = new OllamaClient({ baseUrl: 'http://127.0.0.1:9', retry: { attempts: 1 } })
    await expect(down.waitUntilReady({ timeoutMs: 10_000, intervalMs: 1000, clock })).rejects.toThrow(
      /\/api\/version: not ready after 10 s; last answer: .*cannot reach http:\/\/127.0.0.1:9/,
    )
  })

  it('stops every request once the overall deadline has fired', async () => {
    fake = await startFakeOllama({ pulled: ['phi3'] })
    const client = new OllamaClient({ baseUrl: fake.url, signal: AbortSignal.abort(), retry: noWait })
    await expect(client.tags()).rejects.toThrow(/the overall time limit ran out/)
    await expect(client.pull('phi3', () => {})).rejects.toThrow(/the overall time limit ran out/)
  })

  it('says which URL it cannot reach', async () => {
    const client = new OllamaClient({ baseUrl: 'http://127.0.0.1:9', retry: noWait })
    await expect(client.version()).rejects.toThrow(/cannot reach http:\/\/127.0.0.1:9/)
  })
})
