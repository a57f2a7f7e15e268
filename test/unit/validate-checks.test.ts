import { describe, expect, it } from 'vitest'
import {
  checkAuth,
  checkGpu,
  checkHardwareBilling,
  checkModelsPresent,
  checkTokensPerSecond,
  checkTtft,
} from '../../src/validate/checks.js'
import { checkHealth, checkRailwayVariable } from '../../src/validate/cognitia.js'
import type { ModelMeasurement } from '../../src/validate/types.js'

const measured = (over: Partial<ModelMeasurement> = {}): ModelMeasurement => ({
  model: 'qwen2.5:7b',
  ttftMs: 400,
  tokensPerSecond: 60,
  generatedTokens: 64,
  device: 'gpu',
  gpuSeconds: 1.2,
  replyCostCop: 0,
  ...over,
})
const tag = (name: string) => ({ name, model: name, modified_at: '', size: 0, digest: '' })
const runtime = (current: string | null, requested: string | null) => ({
  stage: 'RUNNING',
  hardware: { current, requested },
})

describe('threshold checks', () => {
  it('TTFT passes strictly below the limit and fails at or above it', () => {
    expect(checkTtft(measured({ ttftMs: 999 }), 1000).status).toBe('pass')
    const failed = checkTtft(measured({ ttftMs: 1000 }), 1000)
    expect(failed).toMatchObject({ status: 'fail', observed: '1000 ms', expected: '< 1000 ms' })
    expect(failed.detail).toBeTruthy()
  })

  it('tokens/s passes strictly above the minimum', () => {
    expect(checkTokensPerSecond(measured({ tokensPerSecond: 50.1 }), 50).status).toBe('pass')
    expect(checkTokensPerSecond(measured({ tokensPerSecond: 50 }), 50)).toMatchObject({
      status: 'fail',
      observed: '50.0 tokens/s',
    })
  })

  it('finds required models through aliases and names the missing ones', () => {
    expect(checkModelsPresent(['phi3', 'qwen2.5:7b'], [tag('phi3:latest'), tag('qwen2.5:7b')]).status).toBe('pass')
    expect(checkModelsPresent(['phi3', 'codellama:7b', 'qwen2.5:7b'], [tag('qwen2.5:7b')])).toMatchObject({
      status: 'fail',
      observed: 'missing: phi3, codellama:7b',
    })
  })

  it('GPU check fails on a CPU or unknown device and on nothing measured', () => {
    expect(checkGpu([measured(), measured({ model: 'phi3' })]).status).toBe('pass')
    expect(checkGpu([measured(), measured({ model: 'phi3', device: 'cpu' })])).toMatchObject({
      status: 'fail',
      observed: 'phi3: cpu',
    })
    expect(checkGpu([]).status).toBe('fail')
    expect(checkGpu([measured({ device: 'cpu' })], false).status).toBe('skip')
  })

  it('auth passes on 401/403/404 without credentials, fails on 200, skips for an open Space', () => {
    expect(checkAuth(true, 401).status).toBe('pass')
    expect(checkAuth(true, 404).status).toBe('pass')
    expect(checkAuth(true, 200)).toMatchObject({ status: 'fail', observed: 'HTTP 200' })
    expect(checkAuth(false, null).status).toBe('skip')
  })

  it('hardware: ZeroGPU and cpu-basic are free; a paid flavor fails unless allowed', () => {
    expect(checkHardwareBilling(runtime('zero-a10g', 'zero-a10g'), 'zero-a10g', false).status).toBe('pass')
    expect(checkHardwareBilling(undefined, 'cpu-basic', false).status).toBe('pass')
    const paid = checkHardwareBilling(runtime('zero-a10g', 'a10g-small'), 'zero-a10g', false)
    expect(paid).toMatchObject({ status: 'fail', observed: 'a10g-small ($1/h)' })
    expect(paid.detail).toMatch(/allow-paid-hardware/)
    expect(checkHardwareBilling(runtime('l40sx1', 'l40sx1'), 'zero-a10g', true).status).toBe('pass')
    expect(checkHardwareBilling(undefined, 'mystery-gpu', false)).toMatchObject({
      status: 'fail',
      observed: 'mystery-gpu (unknown flavor)',
    })
  })
})

describe('Cognitia checks', () => {
  it('the Railway variable must equal the Space URL, trailing slash aside', () => {
    expect(checkRailwayVariable('OLLAMA_BASE_URL', 'https://o-s.hf.space/', 'https://o-s.hf.space').status).toBe('pass')
    expect(
      checkRailwayVariable('OLLAMA_BASE_URL', 'http://ollama.railway.internal:11434', 'https://o-s.hf.space'),
    ).toMatchObject({ status: 'fail', observed: 'http://ollama.railway.internal:11434' })
    expect(checkRailwayVariable('OLLAMA_BASE_URL', undefined, 'https://o-s.hf.space').observed).toBe('not set')
  })

  it('health needs a 2xx and is skipped without a URL', () => {
    expect(checkHealth('http://c/health', 204).status).toBe('pass')
    expect(checkHealth('http://c/health', 502).status).toBe('fail')
    expect(checkHealth('http://c/health', 'no answer: refused').status).toBe('fail')
    expect(checkHealth(undefined, null).status).toBe('skip')
  })
})
