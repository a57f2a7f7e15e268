import { readFileSync } from 'node:fs'
import * as core from '@actions/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { parseVariables } from '../../src/hf/deploy.js'
import { secretForms } from '../../src/secrets.js'
import { fakeToken, type HfFake, startHfFake } from '../fakes/hf.js'
import { makeSpaceFolder, removeFolder } from '../fakes/hf-fixtures.js'
import { answerInputs } from '../support/core-mock.js'
import { parseInputDefaults } from '../support/run-action.js'

vi.mock('@actions/core', async (original) => (await import('../support/core-mock.js')).coreMock(original))

const { run, Inputs, Outputs } = await import('../../actions/create-space/src/main.js')

const actionYml = readFileSync(new URL('../../actions/create-space/action.yml', import.meta.url), 'utf8')
const defaults = parseInputDefaults(actionYml)
const apiKey = 'zk-unit-shared-key-0c0ffee'
const readToken = 'hf_spaceReadTokenUnit55555555555555'

let fake: HfFake
let folder: string

/** Feeds core.getInput/getBooleanInput from a map, with action.yml defaults, as the runner would. */
function givenInputs(inputs: Record<string, string>) {
  const values: Record<string, string> = { ...defaults, ...inputs }
  answerInputs(core, (name) => values[name])
}

function outputs(): Record<string, unknown> {
  return Object.fromEntries(vi.mocked(core.setOutput).mock.calls)
}

function failure(): string | undefined {
  return vi.mocked(core.setFailed).mock.calls[0]?.[0] as string | undefined
}

beforeEach(async () => {
  vi.clearAllMocks()
  fake = await startHfFake({ buildPolls: 1, startingPolls: 0 })
  folder = await makeSpaceFolder()
  process.env.HF_ENDPOINT = fake.url
})

afterEach(async () => {
  delete process.env.HF_ENDPOINT
  await fake.close()
  await removeFolder(folder)
})

describe('create-space main', () => {
  it('masks every credential before anything is logged, then sets ids and URLs as outputs', async () => {
    givenInputs({
      space: 'alice/zerollama',
      'hf-token': fakeToken,
      'space-dir': folder,
      'api-key': apiKey,
      'hf-read-token': readToken,
    })
    await run()
    expect(failure()).toBeUndefined()
    expect(vi.mocked(core.setSecret).mock.calls.map(([value]) => value)).toEqual(
      [fakeToken, apiKey, readToken].flatMap(secretForms),
    )
    const firstMask = Math.min(...vi.mocked(core.setSecret).mock.invocationCallOrder)
    const firstPrint = Math.min(
      ...vi.mocked(core.info).mock.invocationCallOrder,
      ...vi.mocked(core.group).mock.invocationCallOrder,
    )
    expect(firstMask).toBeLessThan(firstPrint)
    const sha = fake.state.spaces.get('alice/zerollama')?.sha
    expect(vi.mocked(core.setOutput).mock.calls).toEqual([
      [Outputs.spaceId, 'alice/zerollama'],
      [Outputs.spaceUrl, 'https://huggingface.co/spaces/alice/zerollama'],
      [Outputs.apiBaseUrl, 'https://alice-zerollama.hf.space'],
      [Outputs.commitSha, sha],
    ])
    expect(vi.mocked(core.group).mock.calls.map(([name]) => name)).toEqual([
      'Preflight',
      'Space repo',
      'Hardware, secrets and variables',
      'Upload',
      'Wait until RUNNING',
    ])
    const rows = vi.mocked(core.summary.addTable).mock.calls[0]?.[0] ?? []
    expect(rows).toContainEqual(['Runtime / hardware', 'zerogpu / zero-a10g'])
    expect(rows).toContainEqual(['Stage', 'RUNNING'])
    expect(JSON.stringify(rows)).not.toMatch(new RegExp(`${fakeToken}|${apiKey}|${readToken}`))
    expect(core.notice).toHaveBeenCalledWith('alice/zerollama is RUNNING: https://alice-zerollama.hf.space')
    expect(fake.state.spaces.get('alice/zerollama')?.commits[0]?.title).toBe(
      `Deploy ${folder}/ (run outside GitHub Actions)`,
    )
  })

  it.each([
    [{ space: '' }, 'Input required and not supplied: space'],
    [{ 'hf-token': '' }, 'Input required and not supplied: hf-token'],
    [{ runtime: 'gpu' }, 'input runtime must be one of zerogpu, docker; got "gpu"'],
    [{ 'wait-timeout-minutes': 'soon' }, 'input wait-timeout-minutes must be a number from 1 to 360, got "soon"'],
    [{ variables: 'OK=1\nnot a pair' }, 'variables line 2 is not KEY=VALUE'],
    [{ variables: 'HF_TOKEN=x' }, 'HF_TOKEN is a secret: pass it through its own input, not variables'],
    [{ runtime: 'docker' }, 'runtime docker needs a paid GPU flavor (e.g. l4x1, a10g-small, l40sx1), not zero-a10g'],
    [{ hardware: 'l4x1' }, 'runtime zerogpu uses hardware zero-a10g, not l4x1; for l4x1 use runtime docker'],
    [{ space: 'not-an-id' }, 'space must look like owner/name'],
  ])('refuses bad input %o before touching the Hub', async (override, message) => {
    givenInputs({ space: 'alice/zerollama', 'hf-token': fakeToken, 'space-dir': folder, ...override })
    await run()
    expect(failure()).toContain(message)
    expect(fake.state.requests.filter((r) => r.method !== 'GET')).toEqual([])
  })

  it('takes an empty boolean (an unset workflow input) as the action.yml default, and refuses a word', async () => {
    givenInputs({ space: 'alice/zerollama', 'hf-token': fakeToken, 'space-dir': folder, private: '', 'dry-run': '' })
    await run()
    expect(failure()).toBeUndefined()
    expect(fake.state.spaces.get('alice/zerollama')?.private).toBe(true)
    vi.clearAllMocks()
    givenInputs({ space: 'alice/zerollama', 'hf-token': fakeToken, 'space-dir': folder, 'dry-run': 'maybe' })
    await run()
    expect(failure()).toContain('dry-run')
  })

  it('reports a rejected token as what to do, without the token', async () => {
    const revoked = 'hf_revokedTokenUnit0000000000000000'
    givenInputs({ space: 'alice/zerollama', 'hf-token': revoked, 'space-dir': folder })
    await run()
    expect(failure()).toMatch(/rejected hf-token \(401\).*settings\/tokens/)
    expect(failure()).not.toContain(revoked)
    expect(core.setSecret).toHaveBeenCalledWith(revoked)
  })

  it('plans without writing in a dry run', async () => {
    givenInputs({ space: 'alice/zerollama', 'hf-token': fakeToken, 'space-dir': folder, 'dry-run': 'true' })
    await run()
    expect(failure()).toBeUndefined()
    expect(fake.state.requests.filter((r) => r.method !== 'GET')).toEqual([])
    expect(outputs()[Outputs.commitSha]).toBe('')
    expect(core.info).toHaveBeenCalledWith('would create private gradio Space')
    expect(core.notice).toHaveBeenCalledWith('dry run: 3 change(s) planned for alice/zerollama')
  })

  it('documents every input with its action.yml default, and every output, in README.md', () => {
    const readme = readFileSync(new URL('../../actions/create-space/README.md', import.meta.url), 'utf8')
    for (const name of Object.values(Inputs)) {
      const row = new RegExp(`^\\|\\s*\`${name}\`\\s*\\|\\s*(yes|no)\\s*\\|([^|]*)\\|`, 'm').exec(readme)
      expect(row, name).not.toBeNull()
      const documented = (row?.[2] ?? '').trim().replace(/^`(.*)`$/, '$1')
      expect(documented === "''" ? '' : documented, name).toBe(defaults[name] ?? '')
      expect(row?.[1] === 'yes', name).toBe(defaults[name] === undefined)
    }
    for (const name of Object.values(Outputs)) expect(readme).toMatch(new RegExp(`^\\|\\s*\`${name}\`\\s*\\|`, 'm'))
  })

  it('names its inputs exactly as action.yml does', () => {
    for (const name of Object.values(Inputs)) expect(actionYml).toContain(`\n  ${name}:\n`)
    for (const name of Object.values(Outputs)) expect(actionYml).toContain(`\n  ${name}:\n`)
  })
})

describe('parseVariables', () => {
  it('reads KEY=VALUE lines, skipping blanks and comments, keeping = in values', () => {
    expect(parseVariables('# keep models warm\nOLLAMA_KEEP_ALIVE=30m\n\n  MODELS=qwen2.5:7b,phi3  \nX=a=b')).toEqual({
      OLLAMA_KEEP_ALIVE: '30m',
      MODELS: 'qwen2.5:7b,phi3',
      X: 'a=b',
    })
    expect(parseVariables('')).toEqual({})
  })
})
