import { readFileSync } from 'node:fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConfigurationError, ServiceError } from '../../src/errors.js'
import { deployEndpoint, type EndpointDeployRequest } from '../../src/hf/deploy-endpoint.js'
import { EndpointsClient, endpointChanges, parseEndpointId } from '../../src/hf/endpoints.js'
import { recordingLogger } from '../../src/logger.js'
import { findEndpointInstance } from '../../src/validate/cost.js'
import {
  defaultEndpointsUser,
  type EndpointsFake,
  type EndpointsFakeOptions,
  fakeEndpointsToken,
  startEndpointsFake,
} from '../fakes/hf-endpoints.js'
import { instantClock } from '../support/clock.js'

const spaceDir = new URL('../../space', import.meta.url).pathname
const dockerfile = readFileSync(`${spaceDir}/Dockerfile`, 'utf8')
const pinnedImage = /^FROM (\S+)$/m.exec(dockerfile)?.[1]
const entrypoint = readFileSync(`${spaceDir}/docker/entrypoint.sh`, 'utf8')
const id = 'cognitia/zerollama'
const writes = (fake: EndpointsFake) => fake.state.requests.filter((r) => r.method !== 'GET')

let fake: EndpointsFake
const started: EndpointsFake[] = []

async function withFake(options: EndpointsFakeOptions = {}) {
  fake = await startEndpointsFake(options)
  started.push(fake)
}

afterEach(async () => {
  for (const each of started.splice(0)) await each.close()
})

function request(overrides: Partial<EndpointDeployRequest> = {}): EndpointDeployRequest {
  const instance = findEndpointInstance('')
  if (!instance) throw new Error('costs.json has no default endpoint instance')
  return {
    namespace: 'cognitia',
    name: 'zerollama',
    instance,
    region: 'us-east-1',
    minReplica: 1,
    maxReplica: 1,
    scaleToZeroTimeout: null,
    access: 'authenticated',
    repository: 'hf-internal-testing/tiny-random-gpt2',
    models: ['qwen2.5:7b', 'phi3'],
    spaceDir,
    waitTimeoutMs: 10 * 60_000,
    dryRun: false,
    ...overrides,
  }
}

async function deploy(overrides: Partial<EndpointDeployRequest> = {}, token = fakeEndpointsToken) {
  const logger = recordingLogger()
  const client = new EndpointsClient({
    token,
    apiUrl: fake.url,
    logger,
    clock: instantClock(),
    requestTimeoutMs: 2000,
    staleStateGraceMs: 0,
  })
  const result = await deployEndpoint(client, request(overrides), logger).catch((error: Error) => error)
  return { result, logger }
}

describe('deployEndpoint through the Endpoints API fake', () => {
  beforeEach(() => withFake())

  it('creates a protected endpoint running the Dockerfile’s pinned Ollama, streams its states and gives its URL', async () => {
    const { result, logger } = await deploy()
    expect(result).toMatchObject({ endpoint: id, state: 'running', changes: [expect.stringContaining('created')] })
    if (result instanceof Error) throw result
    expect(result.apiBaseUrl).toMatch(/^https:\/\/\w+\.us-east-1\.aws\.endpoints\.huggingface\.cloud$/)
    expect(logger.lines).toEqual(
      expect.arrayContaining([
        'state — → pending (Endpoint waiting to be scheduled)',
        'state pending → initializing (Endpoint is initializing)',
        'state initializing → running (Endpoint is ready)',
      ]),
    )
    const doc = fake.state.endpoints.get(id)?.doc as unknown as {
      type: string
      compute: unknown
      model: { image: { custom: unknown }; command: string[]; env: Record<string, string> }
    }
    expect(doc.type).toBe('authenticated')
    expect(doc.compute).toMatchObject({
      accelerator: 'gpu',
      instanceType: 'nvidia-l4',
      instanceSize: 'x1',
      scaling: { minReplica: 1, maxReplica: 1 },
    })
    expect(pinnedImage).toMatch(/^ollama\/ollama.*@sha256:[0-9a-f]{64}$/)
    expect(doc.model.image.custom).toEqual({ url: pinnedImage, port: 11434, healthRoute: '/api/version' })
    // The Docker runtime's own entrypoint starts Ollama and pulls the catalog's models.
    expect(doc.model.command).toEqual(['/bin/sh', '-c', entrypoint])
    expect(doc.model.env).toMatchObject({ OLLAMA_HOST: '0.0.0.0:11434', ZEROLLAMA_PULL_MODELS: 'qwen2.5:7b phi3' })
  })

  it('an unchanged re-run writes nothing; a change is one update whose progress is followed', async () => {
    await deploy()
    const before = writes(fake).length
    const again = await deploy()
    expect(again.result).toMatchObject({ state: 'running', changes: [] })
    expect(again.logger.lines).toContain('nothing changed: the endpoint already matches')
    expect(writes(fake).length).toBe(before)

    const scaled = await deploy({ maxReplica: 3, models: ['qwen2.5:7b'] })
    expect(scaled.result).toMatchObject({
      state: 'running',
      changes: ['max replicas 1 → 3', 'env ZEROLLAMA_PULL_MODELS'],
    })
    expect(writes(fake).map((r) => r.method)).toEqual(['POST', 'PUT'])
    expect(scaled.logger.lines).toContain('state updating → initializing (Endpoint is initializing)')
    expect(fake.state.endpoints.get(id)?.updates).toBe(1)
  })

  it('a failed start ends the run with the state message and the container log', async () => {
    fake.setOutcome(id, {
      state: 'failed',
      message: 'Container exited with code 1',
      logs: ['pulling qwen2.5:7b', 'Error: listen tcp 0.0.0.0:11434: bind: address already in use'],
    })
    const { result } = await deploy()
    expect(result).toBeInstanceOf(ServiceError)
    expect((result as Error).message).toContain('stopped at failed: Container exited with code 1')
    expect((result as Error).message).toContain('last 2 lines of the container log')
    expect((result as Error).message).toContain('bind: address already in use')
    // Fixing the cause and re-running redeploys the same configuration.
    fake.setOutcome(id, { state: 'running' })
    const again = await deploy()
    expect(again.result).toMatchObject({ state: 'running', changes: ['redeploy (was failed)'] })
  })

  it('a paused endpoint is resumed by an unchanged re-run', async () => {
    await deploy()
    fake.setState(id, 'paused')
    const { result } = await deploy()
    expect(result).toMatchObject({ state: 'running', changes: ['resume (was paused)'] })
    expect(fake.state.endpoints.get(id)?.resumes).toBe(1)
  })

  it('a scale-to-zero endpoint asleep counts as up; min 0 without a timeout is refused before any request', async () => {
    const refused = await deploy({ minReplica: 0 })
    expect(refused.result).toBeInstanceOf(ConfigurationError)
    expect((refused.result as Error).message).toContain('set scale-to-zero-minutes')
    expect(fake.state.requests).toEqual([])
    await deploy({ minReplica: 0, scaleToZeroTimeout: 15 })
    fake.setState(id, 'scaledToZero')
    const { result, logger } = await deploy({ minReplica: 0, scaleToZeroTimeout: 15 })
    expect(result).toMatchObject({ state: 'scaledToZero', changes: [] })
    expect(logger.lines).toContain('cognitia/zerollama is scaled to zero: it wakes on the first request')
  })

  it('a create whose reply was lost is confirmed by reading the endpoint back', async () => {
    fake.fail({ method: 'POST', path: '/v2/endpoint/cognitia', status: 502, afterApply: true })
    const { result, logger } = await deploy()
    expect(result).toMatchObject({ state: 'running' })
    expect(logger.lines.some((l) => l.includes('reading back shows it applied'))).toBe(true)
    expect(writes(fake).length).toBe(1)
  })

  it('a dry run reads and writes nothing', async () => {
    const { result, logger } = await deploy({ dryRun: true })
    expect(result).toMatchObject({ state: 'absent', apiBaseUrl: '', changes: [expect.stringContaining('create')] })
    expect(logger.lines.some((l) => l.startsWith('would create authenticated endpoint'))).toBe(true)
    expect(writes(fake)).toEqual([])
  })

  it('an endpoint cannot move region or change access by an update: the error says what to do', async () => {
    await deploy()
    const moved = await deploy({ region: 'eu-west-1' })
    expect(moved.result).toBeInstanceOf(ConfigurationError)
    expect((moved.result as Error).message).toContain('an endpoint cannot move')
    const opened = await deploy({ access: 'public' })
    expect((opened.result as Error).message).toContain('change its security level')
  })
})

describe('refusals become errors that say what to do', () => {
  it('a wrong token, and a namespace the token cannot manage', async () => {
    await withFake()
    const wrong = await deploy({}, 'hf_notAValidTokenAtAll000000000000')
    expect(wrong.result).toBeInstanceOf(ConfigurationError)
    expect((wrong.result as Error).message).toContain('rejected hf-token (401)')
    const foreign = await deploy({ namespace: 'someone-else' })
    expect((foreign.result as Error).message).toContain('may not manage Inference Endpoints of someone-else (403)')
    expect(writes(fake)).toEqual([])
  })

  it('no payment method (402) and no GPU quota for the instance', async () => {
    await withFake({
      users: [
        { ...defaultEndpointsUser, canPay: false },
        { token: 'hf_quotaLimitedToken000000000000000', name: 'bob', gpuQuota: { 'nvidia-l4': 2 } },
      ],
    })
    const unpaid = await deploy()
    expect(unpaid.result).toBeInstanceOf(ConfigurationError)
    expect((unpaid.result as Error).message).toContain('402 Payment Required')
    expect((unpaid.result as Error).message).toContain('huggingface.co/settings/billing')
    const overQuota = await deploy({ namespace: 'bob', maxReplica: 3 }, 'hf_quotaLimitedToken000000000000000')
    expect(overQuota.result).toBeInstanceOf(ConfigurationError)
    expect((overQuota.result as Error).message).toContain('no GPU quota for nvidia-l4 x1 in bob')
    expect((overQuota.result as Error).message).toContain('endpoints.huggingface.co/contact')
  })

  it('no capacity: the endpoint waits, then fails, and the error points at another region or instance', async () => {
    await withFake({ noCapacity: ['aws/us-east-1/nvidia-l4'] })
    const { result, logger } = await deploy()
    expect(result).toBeInstanceOf(ServiceError)
    expect((result as Error).message).toContain('Insufficient capacity for nvidia-l4 in us-east-1')
    expect((result as Error).message).toContain('choose another region or instance')
    expect(logger.lines.some((l) => l.includes('waiting to be scheduled: Insufficient capacity'))).toBe(true)
  })

  it('a capacity refusal of the create itself is a ConfigurationError naming the region', async () => {
    await withFake()
    fake.fail({
      method: 'POST',
      path: '/v2/endpoint/cognitia',
      status: 400,
      message: 'No capacity available for nvidia-l4',
    })
    const { result } = await deploy()
    expect(result).toBeInstanceOf(ConfigurationError)
    expect((result as Error).message).toContain('no capacity for nvidia-l4 x1 in aws us-east-1')
  })
})

describe('endpoint ids and changes', () => {
  it('parses namespace/name and refuses names the API refuses', () => {
    expect(parseEndpointId('cognitia/zerollama')).toEqual({ namespace: 'cognitia', name: 'zerollama' })
    expect(() => parseEndpointId('cognitia/Zero_llama')).toThrow(ConfigurationError)
    expect(() => parseEndpointId('zerollama')).toThrow(ConfigurationError)
    expect(() => parseEndpointId(`cognitia/${'a'.repeat(33)}`)).toThrow(ConfigurationError)
  })

  it('treats the old "protected" type as the same access as "authenticated"', () => {
    const base = {
      name: 'zerollama',
      type: 'protected',
      vendor: 'aws',
      region: 'us-east-1',
      accelerator: 'gpu',
      instanceType: 'nvidia-l4',
      instanceSize: 'x1',
      minReplica: 1,
      maxReplica: 1,
      scaleToZeroTimeout: null,
      repository: 'r',
      image: { url: 'i', healthRoute: '/api/version', port: 11434 },
      command: ['c'],
      env: { A: '1' },
      state: 'running',
    }
    const wanted = { ...base, namespace: 'cognitia', type: 'authenticated' as const, image: { ...base.image } }
    expect(endpointChanges(base, wanted)).toEqual([])
    expect(endpointChanges({ ...base, env: { A: '2' } }, wanted)).toEqual(['env A'])
  })
})
