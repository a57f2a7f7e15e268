import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { COGNITIA, type RailwayFake, startRailwayFake } from '../fakes/railway.js'
import { HF_TOKEN, SPACE_URL } from '../fakes/railway-harness.js'
import { answerInputs, summaryCalls } from '../support/core-mock.js'

const inputs = new Map<string, string>()

vi.mock('@actions/core', async (original) => (await import('../support/core-mock.js')).coreMock(original))

const repos = { createDeployment: vi.fn(), createDeploymentStatus: vi.fn() }
vi.mock('@actions/github', () => ({
  context: {
    repo: { owner: 'acme', repo: 'zerollama' },
    sha: 'abc123',
    serverUrl: 'https://github.com',
    runId: 42,
  },
  getOctokit: vi.fn(() => ({ rest: { repos } })),
}))

const core = await import('@actions/core')
const { run } = await import('../../actions/switch-railway/src/main.js')

let fake: RailwayFake
beforeEach(async () => {
  fake = await startRailwayFake()
  vi.stubEnv('RAILWAY_API_URL', fake.url)
  vi.stubEnv('GITHUB_REPOSITORY', 'acme/zerollama')
  vi.stubEnv('GITHUB_API_URL', 'https://api.github.com')
  inputs.clear()
  answerInputs(core, (name) => inputs.get(name))
  for (const [name, value] of Object.entries({
    mode: 'switch',
    'railway-token': COGNITIA.projectToken,
    'space-url': SPACE_URL,
    'hf-token': HF_TOKEN,
    'dry-run': 'false',
    'restore-default': 'false',
    'poll-interval-seconds': '0',
    'github-token': 'ghs_fakeJobToken',
  })) {
    inputs.set(name, value)
  }
  repos.createDeployment.mockResolvedValue({ data: { id: 7 } })
  repos.createDeploymentStatus.mockResolvedValue({})
})
afterEach(async () => {
  vi.clearAllMocks()
  vi.unstubAllEnvs()
  await fake.close()
})

const outputs = () => Object.fromEntries(vi.mocked(core.setOutput).mock.calls.map(([k, v]) => [k, v]))

describe('switch-railway main', () => {
  it('switches, masks every secret first, sets id/URL outputs and records a GitHub Deployment', async () => {
    await run()
    expect(core.setFailed).not.toHaveBeenCalled()
    const masked = vi.mocked(core.setSecret).mock.calls.map(([s]) => s)
    expect(masked).toEqual(expect.arrayContaining([COGNITIA.projectToken, HF_TOKEN, 'ghs_fakeJobToken']))
    expect(masked).toContain(COGNITIA.databaseUrl)
    expect(masked).toContain(COGNITIA.sessionSecret)
    // Tokens in their URL-encoded and base64 forms too; plain values such as NODE_ENV=production never.
    expect(masked).toContain(Buffer.from(COGNITIA.projectToken).toString('base64'))
    expect(masked).not.toContain('production')
    expect(masked).not.toContain('qwen2.5:7b')
    const firstMask = vi.mocked(core.setSecret).mock.invocationCallOrder[0] ?? 0
    const firstInfo = vi.mocked(core.info).mock.invocationCallOrder[0] ?? Number.POSITIVE_INFINITY
    expect(firstMask).toBeLessThan(firstInfo)
    const deploymentId = fake.state.deploymentsOf('cognitia').at(-1)?.id
    expect(outputs()).toEqual({
      'previous-url': COGNITIA.ollamaUrl,
      'current-url': SPACE_URL,
      'deployment-id': deploymentId,
    })
    expect(fake.state.variable('cognitia', 'OLLAMA_BASE_URL')).toBe(SPACE_URL)
    expect(repos.createDeployment).toHaveBeenCalledWith(
      expect.objectContaining({ owner: 'acme', repo: 'zerollama', ref: 'abc123', environment: 'railway-cognitia' }),
    )
    expect(repos.createDeploymentStatus.mock.calls.map(([p]) => p.state)).toEqual(['in_progress', 'success'])
    const table = summaryCalls(core.summary).find(([m]) => m === 'addTable')?.[1] as unknown[][]
    expect(table[1]).toEqual(['cognitia OLLAMA_BASE_URL', COGNITIA.ollamaUrl, SPACE_URL])
    expect(JSON.stringify([summaryCalls(core.summary), repos.createDeployment.mock.calls])).not.toContain(HF_TOKEN)
  })

  it('outside a workflow run (no GITHUB_API_URL) records no GitHub Deployment, even with a token', async () => {
    vi.stubEnv('GITHUB_API_URL', '')
    const github = await import('@actions/github')
    await run()
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(github.getOctokit).not.toHaveBeenCalled()
    expect(repos.createDeployment).not.toHaveBeenCalled()
  })

  it('dry-run changes nothing and records nothing', async () => {
    inputs.set('dry-run', 'true')
    await run()
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(fake.state.variable('cognitia', 'OLLAMA_BASE_URL')).toBe(COGNITIA.ollamaUrl)
    expect(repos.createDeployment).not.toHaveBeenCalled()
    expect(outputs()).toEqual({
      'previous-url': COGNITIA.ollamaUrl,
      'current-url': COGNITIA.ollamaUrl,
      'deployment-id': '',
    })
    expect(summaryCalls(core.summary).find(([m]) => m === 'addHeading')?.[1]).toBe(
      'Railway switch (dry run, nothing changed)',
    )
    expect(summaryCalls(core.summary).find(([m]) => m === 'addList')?.[1]).toContain(
      `OLLAMA_BASE_URL: ${COGNITIA.ollamaUrl} → ${SPACE_URL}`,
    )
  })

  it('a token that may not create deployments gives a warning, not a failure', async () => {
    repos.createDeployment.mockRejectedValue(
      Object.assign(new Error('Resource not accessible by integration'), { status: 403 }),
    )
    await run()
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(vi.mocked(core.warning).mock.calls.join('\n')).toMatch(/permissions: deployments: write/)
    expect(fake.state.variable('cognitia', 'OLLAMA_BASE_URL')).toBe(SPACE_URL)
  })

  it('a failed Railway deploy fails the step with the rollback instruction and marks the deployment failed', async () => {
    fake.state.setOutcome('cognitia', 'FAILED')
    await run()
    expect(vi.mocked(core.setFailed).mock.calls[0]?.[0]).toMatch(/ended FAILED.*mode=rollback/)
    expect(repos.createDeploymentStatus.mock.calls.map(([p]) => p.state)).toEqual(['in_progress', 'failure'])
  })

  it('rejects an unknown mode or token kind before calling Railway', async () => {
    inputs.set('mode', 'delete')
    await run()
    expect(core.setFailed).toHaveBeenLastCalledWith(
      'input mode must be one of switch, rollback, decommission, reactivate; got "delete"',
    )
    inputs.set('mode', 'rollback')
    inputs.set('railway-token-kind', 'team')
    await run()
    expect(vi.mocked(core.setFailed).mock.lastCall?.[0]).toMatch(
      /railway-token-kind must be one of project, workspace, account/,
    )
    expect(fake.state.calls).toEqual([])
  })

  it('rollback restores the recorded value', async () => {
    await run()
    inputs.set('mode', 'rollback')
    await run()
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(fake.state.variable('cognitia', 'OLLAMA_BASE_URL')).toBe(COGNITIA.ollamaUrl)
    expect(outputs()['current-url']).toBe(COGNITIA.ollamaUrl)
  })
})
