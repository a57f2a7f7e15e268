/**
 * The terminal path: `zerollama plan|migrate|rollback|status` against the HF fake, the Railway fake
 * (seeded as Cognitia's setup) and the Ollama API fake, with the gates answered on a scripted stdin.
 * The phases are the committed action bundles, so these also prove the CLI drives them correctly.
 */
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.js'
import { fakeToken, type HfFake, startHfFake } from '../fakes/hf.js'
import { startEndpointsFake } from '../fakes/hf-endpoints.js'
import { type FakeOllama, startFakeOllama } from '../fakes/ollama.js'
import { COGNITIA, cognitiaSeed, type RailwayFake, startRailwayFake } from '../fakes/railway.js'

const SPACE = 'cognitia/zerollama'
const SPACE_API = 'https://cognitia-zerollama.hf.space'
const slow = { timeout: 120_000 }

let hf: HfFake
let railway: RailwayFake
let ollama: FakeOllama

beforeEach(async () => {
  ;[hf, railway, ollama] = await Promise.all([
    startHfFake({ buildPolls: 1, startingPolls: 0 }),
    startRailwayFake(),
    startFakeOllama({ hfToken: fakeToken, device: 'gpu', ttftMs: 5, tokensPerSecond: 80 }),
  ])
})

afterEach(async () => {
  await Promise.all([hf.close(), railway.close(), ollama.stop()])
})

async function cli(args: string[], answers: string[] = [], env: Record<string, string> = {}) {
  const lines: string[] = []
  const code = await main(args, {
    stdin: Readable.from(answers.map((a) => `${a}\n`)),
    print: (line) => lines.push(line),
    env: {
      HF_TOKEN: fakeToken,
      RAILWAY_TOKEN: COGNITIA.projectToken,
      HF_ENDPOINT: hf.url,
      RAILWAY_API_URL: railway.url,
      ZEROLLAMA_BASE_URL: ollama.url,
      ...env,
    },
  })
  const output = lines.join('\n')
  for (const token of [fakeToken, COGNITIA.projectToken]) expect(output).not.toContain(token)
  return { code, output }
}

const cognitiaUrl = () => railway.state.variable('cognitia', 'OLLAMA_BASE_URL')

/** Railway as a finished migration leaves it: Cognitia on the Space, the old URL recorded, ollama stopped. */
async function switchedRailway(): Promise<RailwayFake> {
  const seed = cognitiaSeed()
  const cognitia = seed.variables.find((v) => v.serviceId === COGNITIA.cognitiaServiceId)
  if (!cognitia) throw new Error('the seed has no cognitia variables')
  cognitia.values.OLLAMA_BASE_URL = SPACE_API
  cognitia.values.ZEROLLAMA_PREVIOUS_OLLAMA_BASE_URL = COGNITIA.ollamaUrl
  seed.running = seed.running.filter((r) => r.serviceId !== COGNITIA.ollamaServiceId)
  return startRailwayFake(seed)
}

describe('zerollama CLI', () => {
  it('migrate: runs every phase, shows the figures before each typed confirmation, then switches', slow, async () => {
    const { code, output } = await cli(
      ['migrate', '--space', SPACE, '--models', 'qwen2.5:7b'],
      ['switch', 'decommission'],
    )
    expect(code, output).toBe(0)
    expect(hf.state.spaces.get(SPACE)?.stage).toBe('RUNNING')
    expect(ollama.pulled.has('qwen2.5:7b')).toBe(true)
    expect(cognitiaUrl()).toBe(SPACE_API)
    expect(railway.state.variable('cognitia', 'ZEROLLAMA_PREVIOUS_OLLAMA_BASE_URL')).toBe(COGNITIA.ollamaUrl)
    expect(railway.state.isRunning('ollama')).toBe(false)
    // The reviewer's figures come first, then the question.
    const figures = output.indexOf('TTFT')
    const question = output.indexOf('Type "switch" to approve')
    expect(figures).toBeGreaterThan(-1)
    expect(question).toBeGreaterThan(figures)
    for (const phase of ['create-space', 'pull-models', 'validate', 'switch', 'validate-cognitia', 'decommission']) {
      expect(output).toMatch(new RegExp(`^${phase}\\s+ok`, 'm'))
    }
  })

  it('migrate: a wrong word at the production gate stops before Railway is touched', slow, async () => {
    const { code, output } = await cli(['migrate', '--space', SPACE, '--models', 'phi3'], ['yes'])
    expect(code).toBe(1)
    expect(output).toContain('gate production: not approved')
    expect(cognitiaUrl()).toBe(COGNITIA.ollamaUrl)
    expect(railway.state.isRunning('ollama')).toBe(true)
    expect(railway.state.calls.some((c) => c.operation.toLowerCase().includes('upsert'))).toBe(false)
  })

  it('migrate: the end of input at the decommission gate keeps the old service running', slow, async () => {
    const { code } = await cli(['migrate', '--space', SPACE, '--models', 'phi3'], ['switch'])
    expect(code).toBe(1)
    expect(cognitiaUrl()).toBe(SPACE_API)
    expect(railway.state.isRunning('ollama')).toBe(true)
  })

  it('plan: changes nothing anywhere and shows the switch it would make', slow, async () => {
    const { code, output } = await cli(['plan', '--space', SPACE])
    expect(code, output).toBe(0)
    expect(hf.state.spaces.has(SPACE)).toBe(false)
    expect(cognitiaUrl()).toBe(COGNITIA.ollamaUrl)
    expect(output).toContain(SPACE_API)
    expect(output).toMatch(/^switch\s+planned/m)
  })

  it('rollback: restores the recorded URL and restarts the old service; status shows it', slow, async () => {
    await railway.close()
    railway = await switchedRailway()
    const before = await cli(['status', '--space', SPACE])
    expect(before.code, before.output).toBe(0)
    expect(before.output).toMatch(/Space cognitia\/zerollama\s+cannot read it/)
    expect(before.output).toMatch(new RegExp(`cognitia OLLAMA_BASE_URL\\s+${SPACE_API}`))
    expect(before.output).toMatch(/ollama service\s+stopped/)

    const { code, output } = await cli(['rollback'], [], { HF_TOKEN: '' })
    expect(code, output).toBe(0)
    expect(cognitiaUrl()).toBe(COGNITIA.ollamaUrl)
    expect(railway.state.isRunning('ollama')).toBe(true)
    const after = await cli(['status'])
    expect(after.output).toMatch(/ollama service\s+running/)
  })

  it('status never prints a token, even when an upstream error echoes it in any encoding', async () => {
    const token = COGNITIA.projectToken
    const echoed = [token, encodeURIComponent(`${token}/`), Buffer.from(token).toString('base64')].join(' | ')
    railway.failNext({ kind: 'graphql-error', message: `bad request, headers: project-access-token=${echoed}` })
    const { code, output } = await cli(['status'])
    expect(code).toBe(1)
    expect(output).toContain('project-access-token=*** | ***%2F | ***')
    expect(output).not.toContain(Buffer.from(token).toString('base64'))
  })

  it('fails with what to set when a token is missing, and explains unknown commands', async () => {
    const missing = await cli(['migrate', '--space', SPACE], [], { RAILWAY_TOKEN: '' })
    expect(missing.code).toBe(2)
    expect(missing.output).toContain('set RAILWAY_TOKEN')
    const unknown = await cli(['launch'])
    expect(unknown.code).toBe(2)
    expect(unknown.output).toContain('unknown command "launch"')
    expect((await cli([])).output).toContain('usage:')
  })

  it('migrate --target endpoint: creates the Inference Endpoint, validates and switches to its URL', slow, async () => {
    const endpointUrl = 'https://cognitia-zerollama.us-east-1.aws.endpoints.huggingface.cloud'
    const endpoints = await startEndpointsFake({
      users: [{ token: fakeToken, name: 'alice', orgs: ['cognitia'] }],
      initializingPolls: 0,
      urlFor: () => endpointUrl,
    })
    try {
      const env = { HF_ENDPOINTS_API_URL: endpoints.url }
      const plan = await cli(['plan', '--space', SPACE, '--target', 'endpoint'], [], env)
      expect(plan.code, plan.output).toBe(0)
      expect(plan.output).toContain('would create authenticated endpoint on AWS 1x NVIDIA L4 in us-east-1')
      expect(plan.output).toContain('there is no switch to plan')
      expect(endpoints.state.endpoints.size).toBe(0)

      const { code, output } = await cli(
        ['migrate', '--space', SPACE, '--target', 'endpoint', '--models', 'phi3'],
        ['switch', 'decommission'],
        env,
      )
      expect(code, output).toBe(0)
      expect(endpoints.state.endpoints.get(SPACE)?.doc.status.state).toBe('running')
      expect(hf.state.spaces.size).toBe(0)
      expect(output).toContain('No paid hardware billed (Inference Endpoint)')
      expect(cognitiaUrl()).toBe(endpointUrl)
      for (const phase of ['create-endpoint', 'pull-models', 'validate', 'switch', 'decommission']) {
        expect(output).toMatch(new RegExp(`^${phase}\\s+ok`, 'm'))
      }
      const back = await cli(['rollback'], [], { HF_TOKEN: '' })
      expect(back.code, back.output).toBe(0)
      expect(cognitiaUrl()).toBe(COGNITIA.ollamaUrl)
    } finally {
      await endpoints.close()
    }
  })

  it('refuses an unknown --target', async () => {
    const { code, output } = await cli(['plan', '--space', SPACE, '--target', 'cloud'])
    expect(code).toBe(2)
    expect(output).toContain('--target must be one of space, endpoint, got "cloud"')
  })
})
