import { readFileSync } from 'node:fs'
import * as core from '@actions/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { secretForms } from '../../src/secrets.js'
import { type EndpointsFake, fakeEndpointsToken, startEndpointsFake } from '../fakes/hf-endpoints.js'
import { answerInputs } from '../support/core-mock.js'
import { parseInputDefaults } from '../support/run-action.js'

vi.mock('@actions/core', async (original) => (await import('../support/core-mock.js')).coreMock(original))

const { run, Inputs, Outputs } = await import('../../actions/create-endpoint/src/main.js')

const actionYml = readFileSync(new URL('../../actions/create-endpoint/action.yml', import.meta.url), 'utf8')
const defaults = parseInputDefaults(actionYml)
const spaceDir = new URL('../../space', import.meta.url).pathname

let fake: EndpointsFake

function givenInputs(inputs: Record<string, string>) {
  const values: Record<string, string> = { ...defaults, 'space-dir': spaceDir, ...inputs }
  answerInputs(core, (name) => values[name])
}

const outputs = () => Object.fromEntries(vi.mocked(core.setOutput).mock.calls)
const failure = () => vi.mocked(core.setFailed).mock.calls[0]?.[0] as string | undefined

beforeEach(async () => {
  vi.clearAllMocks()
  fake = await startEndpointsFake({ initializingPolls: 0 })
  process.env.HF_ENDPOINTS_API_URL = fake.url
})

afterEach(async () => {
  delete process.env.HF_ENDPOINTS_API_URL
  await fake.close()
})

describe('create-endpoint main', () => {
  it('masks the token first, then creates the endpoint and sets its URLs as outputs', async () => {
    givenInputs({ endpoint: 'alice/zerollama', 'hf-token': fakeEndpointsToken, 'max-replicas': '2' })
    await run()
    expect(failure()).toBeUndefined()
    expect(vi.mocked(core.setSecret).mock.calls.map(([v]) => v)).toEqual(secretForms(fakeEndpointsToken))
    const firstMask = Math.min(...vi.mocked(core.setSecret).mock.invocationCallOrder)
    expect(firstMask).toBeLessThan(Math.min(...vi.mocked(core.group).mock.invocationCallOrder))
    const url = fake.state.endpoints.get('alice/zerollama')?.doc.status.url
    expect(outputs()).toEqual({
      [Outputs.endpoint]: 'alice/zerollama',
      [Outputs.endpointUrl]: 'https://endpoints.huggingface.co/alice/endpoints/zerollama',
      [Outputs.apiBaseUrl]: url,
      [Outputs.state]: 'running',
    })
    expect(vi.mocked(core.group).mock.calls.map(([name]) => name)).toEqual([
      'Preflight',
      'Endpoint',
      'Create',
      'Wait until running',
    ])
    const rows = vi.mocked(core.summary.addTable).mock.calls[0]?.[0] ?? []
    expect(rows).toContainEqual(['Instance / region', 'AWS 1x NVIDIA L4 ($0.8/h per replica) / us-east-1'])
    expect(rows).toContainEqual(['Replicas', '1–2'])
    expect(JSON.stringify(rows)).not.toContain(fakeEndpointsToken)
  })

  it.each([
    [{ endpoint: '' }, 'Input required and not supplied: endpoint'],
    [{ endpoint: 'alice/Zero_Llama' }, 'endpoint must look like namespace/name'],
    [{ instance: 'aws-nvidia-b300-x1' }, 'has no price in space/costs.json endpoint_instances'],
    [{ access: 'private' }, 'input access must be one of authenticated, public; got "private"'],
    [{ 'min-replicas': '0' }, 'set scale-to-zero-minutes'],
    [{ 'min-replicas': '2', 'max-replicas': '1' }, 'max-replicas (1) must be at least 1 and at least min-replicas (2)'],
    [{ 'scale-to-zero-minutes': 'soon' }, 'scale-to-zero-minutes must be whole minutes'],
    [{ models: 'llama9:400b' }, 'Unknown model: llama9:400b'],
  ])('refuses bad input %o before touching the API', async (override, message) => {
    givenInputs({ endpoint: 'alice/zerollama', 'hf-token': fakeEndpointsToken, ...override })
    await run()
    expect(failure()).toContain(message)
    expect(fake.state.requests).toEqual([])
  })

  it('accepts the old name "protected" for authenticated access', async () => {
    givenInputs({ endpoint: 'alice/zerollama', 'hf-token': fakeEndpointsToken, access: 'protected' })
    await run()
    expect(failure()).toBeUndefined()
    expect(fake.state.endpoints.get('alice/zerollama')?.doc.type).toBe('authenticated')
  })

  it('documents every input with its action.yml default, and every output, in README.md', () => {
    const readme = readFileSync(new URL('../../actions/create-endpoint/README.md', import.meta.url), 'utf8')
    for (const name of Object.values(Inputs)) {
      const row = new RegExp(`^\\|\\s*\`${name}\`\\s*\\|\\s*(yes|no)\\s*\\|([^|]*)\\|`, 'm').exec(readme)
      expect(row, name).not.toBeNull()
      const documented = (row?.[2] ?? '').trim().replace(/^`(.*)`$/, '$1')
      expect(documented === "''" ? '' : documented, name).toBe(defaults[name] ?? '')
      expect(row?.[1] === 'yes', name).toBe(defaults[name] === undefined)
    }
    for (const name of Object.values(Outputs)) expect(readme).toMatch(new RegExp(`^\\|\\s*\`${name}\`\\s*\\|`, 'm'))
    for (const name of Object.values(Inputs)) expect(actionYml).toContain(`\n  ${name}:\n`)
  })
})
