/**
 * Runs the committed bundle actions/create-space/dist/index.mjs as the runner would, against the
 * HF fake. Proves the bundle starts, applies action.yml defaults, masks every credential and sets
 * only ids and URLs as outputs.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defaultUser, fakeToken, type HfFake, startHfFake } from '../fakes/hf.js'
import { fixtureFiles, makeSpaceFolder, removeFolder } from '../fakes/hf-fixtures.js'
import { type ActionRun, runAction } from '../support/run-action.js'

const apiKey = 'zk-e2e-shared-key-5f1c9a'
const readToken = 'hf_spaceReadTokenE2E777777777777777'
const ineligibleToken = 'hf_freeAccountTokenE2E00000000000000'
const github = {
  GITHUB_REPOSITORY: 'cognitia/zerollama',
  GITHUB_RUN_ID: '4242',
  GITHUB_SERVER_URL: 'https://github.com',
}

let fake: HfFake
let folder: string

beforeEach(async () => {
  fake = await startHfFake({
    buildPolls: 1,
    startingPolls: 0,
    users: [defaultUser, { token: ineligibleToken, name: 'dave', zeroGpuEligible: false }],
  })
  folder = await makeSpaceFolder()
})

afterEach(async () => {
  await fake.close()
  await removeFolder(folder)
})

function create(inputs: Record<string, string> = {}, token = fakeToken) {
  return runAction(
    'create-space',
    { space: 'alice/zerollama', 'hf-token': token, 'space-dir': folder, ...inputs },
    { HF_ENDPOINT: fake.url, ...github },
  )
}

/** Everything a workflow log, a later job or a reader of the summary could see, minus the mask commands. */
function visibleText(run: ActionRun): string {
  const stdout = run.stdout
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n')
  return [stdout, run.stderr, run.summary, JSON.stringify(run.outputs)].join('\n')
}

describe('create-space bundle', () => {
  it('fails with the runner message when a required input is missing', async () => {
    const run = await runAction('create-space', { 'hf-token': fakeToken }, { HF_ENDPOINT: fake.url })
    expect(run.exitCode).toBe(1)
    expect(run.stdout).toContain('::error::Input required and not supplied: space')
    expect(fake.state.requests).toEqual([])
  })

  it('creates, configures, uploads and waits; outputs ids and URLs only; masks every credential', async () => {
    const run = await create({ 'api-key': apiKey, 'hf-read-token': readToken, variables: 'OLLAMA_KEEP_ALIVE=30m\n' })
    expect(run.stderr).toBe('')
    expect(run.exitCode).toBe(0)
    const space = fake.state.spaces.get('alice/zerollama')
    expect(run.outputs).toEqual({
      'space-id': 'alice/zerollama',
      'space-url': 'https://huggingface.co/spaces/alice/zerollama',
      'api-base-url': 'https://alice-zerollama.hf.space',
      'commit-sha': space?.sha,
    })
    expect(space).toMatchObject({ private: true, sdk: 'gradio', stage: 'RUNNING' })
    expect(space?.hardware).toEqual({ current: 'zero-a10g', requested: 'zero-a10g' })
    expect(space?.commits.map((c) => [c.title, c.description])).toEqual([
      [`Deploy ${folder}/ from cognitia/zerollama run 4242`, 'https://github.com/cognitia/zerollama/actions/runs/4242'],
    ])
    expect(space?.secrets.get('ZEROLLAMA_API_KEY')?.value).toBe(apiKey)
    expect(space?.secrets.get('HF_TOKEN')?.value).toBe(readToken)
    expect(space?.variables.get('OLLAMA_KEEP_ALIVE')?.value).toBe('30m')

    for (const secret of [fakeToken, apiKey, readToken]) {
      expect(run.stdout).toContain(`::add-mask::${secret}`)
      expect(visibleText(run)).not.toContain(secret)
    }
    expect(run.stdout).toContain('::group::Preflight')
    expect(run.stdout).toContain('::group::Wait until RUNNING')
    expect(run.stdout).toContain('stage — → BUILDING (hardware zero-a10g)')
    expect(run.summary).toContain('<h2>Space alice/zerollama</h2>')
    expect(run.summary).toContain('https://alice-zerollama.hf.space')
    expect(run.summary).toContain('secret ZEROLLAMA_API_KEY')
  })

  it('changes nothing on a re-run with the same inputs: no write, no commit, no restart', async () => {
    const inputs = { 'api-key': apiKey, variables: 'OLLAMA_KEEP_ALIVE=30m' }
    const first = await create(inputs)
    expect(first.exitCode).toBe(0)
    const before = fake.state.requests.length
    const second = await create(inputs)
    expect(second.exitCode).toBe(0)
    expect(second.outputs['commit-sha']).toBe(first.outputs['commit-sha'])
    expect(fake.state.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([])
    const space = fake.state.spaces.get('alice/zerollama')
    expect(space?.commits).toHaveLength(1)
    expect(space?.restarts).toBe(0)
    expect(second.stdout).toContain('nothing changed: the Space already matched')
    expect(second.summary).toContain('nothing')
  })

  it('prints the plan in a dry run and writes nothing', async () => {
    const run = await create({ 'dry-run': 'true', 'api-key': apiKey })
    expect(run.exitCode).toBe(0)
    expect(fake.state.requests.filter((r) => r.method !== 'GET')).toEqual([])
    expect(run.stdout).toContain('would create private gradio Space')
    expect(run.stdout).toContain('would check secrets ZEROLLAMA_API_KEY')
    expect(run.outputs['commit-sha']).toBe('')
    expect(run.summary).toContain('(dry run)')
  })

  it('explains a 402 for ZeroGPU and keeps the token out of the error', async () => {
    const run = await create({ space: 'dave/zerollama' }, ineligibleToken)
    expect(run.exitCode).toBe(1)
    expect(run.stdout).toMatch(/::error::the Hub refused ZeroGPU hardware for dave\/zerollama \(402\).*PRO/)
    expect(visibleText(run)).not.toContain(ineligibleToken)
    expect(run.outputs['space-id']).toBe('dave/zerollama')
  })

  it('fails a BUILD_ERROR with the log tail and still reports the commit', async () => {
    fake.setOutcome('alice/zerollama', {
      stage: 'BUILD_ERROR',
      errorMessage: 'Build failed with exit code: 1',
      buildLog: ['Collecting torch==9.9', 'ERROR: No matching distribution found for torch==9.9'],
    })
    const run = await create()
    expect(run.exitCode).toBe(1)
    const error = run.stdout.split('\n').find((line) => line.startsWith('::error::')) ?? ''
    expect(error).toContain('stopped at BUILD_ERROR: Build failed with exit code: 1')
    expect(error).toContain('%0ACollecting torch==9.9%0AERROR: No matching distribution found for torch==9.9')
    expect(run.outputs['commit-sha']).toBe(fake.state.spaces.get('alice/zerollama')?.sha)
  })

  it('refuses runtime docker on ZeroGPU hardware before calling the Hub', async () => {
    const run = await create({ runtime: 'docker' })
    expect(run.exitCode).toBe(1)
    expect(run.stdout).toContain('::error::runtime docker needs a paid GPU flavor')
    expect(fake.state.requests).toEqual([])
  })

  it('deploys runtime docker on a paid flavor with a Docker README', async () => {
    const run = await create({ runtime: 'docker', hardware: 'l4x1' })
    expect(run.exitCode).toBe(0)
    const space = fake.state.spaces.get('alice/zerollama')
    expect(space?.sdk).toBe('docker')
    expect(space?.hardware.current).toBe('l4x1')
    expect(space?.files.get('README.md')?.content.toString()).toContain('sdk: docker\napp_port: 11434\n')
    expect(fixtureFiles.Dockerfile).toContain('EXPOSE 11434')
  })
})
