import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type DeployRequest, deploySpace } from '../../src/hf/deploy.js'
import { SpaceManager } from '../../src/hf/space-manager.js'
import { recordingLogger } from '../../src/logger.js'
import { defaultUser, type FailureRule, fakeToken, type HfFake, startHfFake } from '../fakes/hf.js'
import { makeSpaceFolder, removeFolder } from '../fakes/hf-fixtures.js'
import { instantClock } from '../support/clock.js'

const spaceId = 'cognitia/zerollama'
const apiKey = 'zk-deploy-shared-key-1234'
const freeToken = 'hf_freeAccountTokenDeploy0000000000'
let fake: HfFake
let folder: string

beforeEach(async () => {
  fake = await startHfFake({ users: [defaultUser, { token: freeToken, name: 'dave', zeroGpuEligible: false }] })
  folder = await makeSpaceFolder()
})

afterEach(async () => {
  await fake.close()
  await removeFolder(folder)
})

function request(overrides: Partial<DeployRequest> = {}): DeployRequest {
  return {
    spaceId,
    private: true,
    runtime: 'zerogpu',
    hardware: 'zero-a10g',
    folder,
    secrets: { ZEROLLAMA_API_KEY: apiKey },
    variables: { OLLAMA_KEEP_ALIVE: '30m' },
    commitMessage: 'Deploy space/ from cognitia/zerollama run 7',
    waitTimeoutMs: 10 * 60_000,
    dryRun: false,
    ...overrides,
  }
}

async function deploy(overrides: Partial<DeployRequest> = {}, token = fakeToken) {
  const logger = recordingLogger()
  const manager = new SpaceManager({
    token,
    hubUrl: fake.url,
    logger,
    clock: instantClock(),
    requestTimeoutMs: 300,
    logTail: { idleMs: 100, totalMs: 1000 },
  })
  const result = await deploySpace(manager, request(overrides), logger).catch((error: Error) => error)
  return { result, logger }
}

describe('deploySpace', () => {
  it('creates and configures a new Space, then a re-run writes nothing and restarts nothing', async () => {
    const first = await deploy()
    expect(first.result).toMatchObject({
      spaceId,
      apiBaseUrl: 'https://cognitia-zerollama.hf.space',
      stage: 'RUNNING',
      hardware: 'zero-a10g',
      changes: [
        'created private gradio Space',
        'hardware → zero-a10g',
        'secret ZEROLLAMA_API_KEY',
        'variable OLLAMA_KEEP_ALIVE',
        expect.stringMatching(/^commit [0-9a-f]{12}$/),
      ],
    })
    const before = fake.state.requests.length
    const second = await deploy()
    expect(second.result).toMatchObject({ changes: [], stage: 'RUNNING' })
    expect(fake.state.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([])
    const space = fake.state.spaces.get(spaceId)
    expect(space?.commits).toHaveLength(1)
    expect(space?.restarts).toBe(0)
    expect(second.logger.lines).toContain('nothing changed: the Space already matched')
  })

  it('restarts an unchanged Space that is asleep, and only then', async () => {
    await deploy()
    fake.setStage(spaceId, 'SLEEPING')
    const { result } = await deploy()
    expect(result).toMatchObject({ changes: ['restart (was SLEEPING)'], stage: 'RUNNING' })
    expect(fake.state.spaces.get(spaceId)?.restarts).toBe(1)
  })

  it('a settings-only change lets the Hub restart the Space by itself', async () => {
    await deploy()
    const { result } = await deploy({ variables: { OLLAMA_KEEP_ALIVE: '1h' } })
    expect(result).toMatchObject({ changes: ['variable OLLAMA_KEEP_ALIVE'], stage: 'RUNNING' })
    const space = fake.state.spaces.get(spaceId)
    expect(space?.restarts).toBe(0)
    expect(space?.commits).toHaveLength(1)
  })

  it('switches an existing Docker Space to ZeroGPU: new README first, then the hardware', async () => {
    const docker = await deploy({ runtime: 'docker', hardware: 'l4x1' })
    expect(docker.result).toMatchObject({ stage: 'RUNNING', hardware: 'l4x1' })
    expect(fake.state.spaces.get(spaceId)?.sdk).toBe('docker')
    const { result, logger } = await deploy()
    expect(result).toMatchObject({ stage: 'RUNNING', hardware: 'zero-a10g' })
    expect(fake.state.spaces.get(spaceId)?.sdk).toBe('gradio')
    expect(logger.lines).toContain(
      `switching ${spaceId} from the docker SDK to gradio: uploading before the hardware change`,
    )
  })

  it('plans a dry run against an existing Space without writing', async () => {
    await deploy()
    await writeFile(join(folder, 'app.py'), 'print("v2")\n')
    const before = fake.state.requests.length
    const { result, logger } = await deploy({ dryRun: true })
    expect(result).toMatchObject({
      changes: ['check secrets ZEROLLAMA_API_KEY', 'check variables OLLAMA_KEEP_ALIVE', 'upload app.py'],
    })
    expect(logger.lines).toContain('would upload app.py')
    expect(fake.state.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([])
  })

  const faults: Array<[string, FailureRule, RegExp]> = [
    ['401 on whoami', { path: '/api/whoami-v2', status: 401 }, /rejected hf-token \(401\)/],
    ['402 on create', { method: 'POST', path: '/api/repos/create', status: 402 }, /402 Payment Required/],
    ['403 on hardware', { method: 'POST', path: /\/hardware$/, status: 403 }, /refused ZeroGPU hardware.*\(403\)/],
    [
      'persistent 429 on tree',
      { path: /\/tree\//, status: 429, retryAfter: '2', times: 9 },
      /answered 429.*wait 2 s \(as the server asked\), then re-run/,
    ],
    ['persistent 503 on runtime', { path: /\/runtime$/, status: 503, times: 9 }, /answered 503.*re-run the job later/],
    ['hanging secrets read', { path: /\/secrets$/, hang: true, times: 9 }, /got no answer within 0.3 s/],
    ['500 on commit', { method: 'POST', path: /\/commit\/main$/, status: 500 }, /answered 500/],
  ]

  it.each(faults)('%s ends in an actionable error that never contains a credential', async (_name, rule, message) => {
    fake.fail(rule)
    const { result, logger } = await deploy()
    expect(result).toBeInstanceOf(Error)
    expect((result as Error).message).toMatch(message)
    const everything = [(result as Error).message, (result as Error).stack ?? '', ...logger.lines].join('\n')
    expect(everything).not.toContain(fakeToken)
    expect(everything).not.toContain(apiKey)
  })

  it('explains that a free account cannot host ZeroGPU, and changes no hardware', async () => {
    const { result } = await deploy({ spaceId: 'dave/zerollama' }, freeToken)
    expect((result as Error).message).toMatch(/not eligible to host ZeroGPU Spaces.*runtime: docker/)
    expect(fake.state.spaces.get('dave/zerollama')?.hardware.requested).toBe('cpu-basic')
    expect(fake.state.spaces.get('dave/zerollama')?.commits).toHaveLength(0)
  })
})
