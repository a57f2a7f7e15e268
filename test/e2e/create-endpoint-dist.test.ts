/**
 * Runs the committed bundle actions/create-endpoint/dist/index.mjs as the runner would, against the
 * Inference Endpoints fake: it starts, applies the action.yml defaults, finds space/ for the image and
 * the start command, masks the token and sets only ids and URLs as outputs; a re-run changes nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type EndpointsFake, fakeEndpointsToken, startEndpointsFake } from '../fakes/hf-endpoints.js'
import { runAction } from '../support/run-action.js'

let fake: EndpointsFake
const spaceDir = new URL('../../space', import.meta.url).pathname

beforeEach(async () => {
  fake = await startEndpointsFake({ initializingPolls: 0 })
})

afterEach(async () => {
  await fake.close()
})

const create = (inputs: Record<string, string> = {}, token = fakeEndpointsToken) =>
  runAction(
    'create-endpoint',
    { endpoint: 'cognitia/zerollama', 'hf-token': token, 'space-dir': spaceDir, ...inputs },
    { HF_ENDPOINTS_API_URL: fake.url },
  )

describe('create-endpoint bundle', () => {
  it('creates the endpoint, outputs its URL without the token, and a re-run writes nothing', async () => {
    const first = await create()
    expect(first.exitCode, first.output).toBe(0)
    const url = fake.state.endpoints.get('cognitia/zerollama')?.doc.status.url
    expect(first.outputs).toEqual({
      endpoint: 'cognitia/zerollama',
      'endpoint-url': 'https://endpoints.huggingface.co/cognitia/endpoints/zerollama',
      'api-base-url': url,
      state: 'running',
    })
    expect(first.stdout).toContain(`::add-mask::${fakeEndpointsToken}`)
    const visible = [first.stdout.replaceAll(`::add-mask::${fakeEndpointsToken}`, ''), first.stderr, first.summary]
    expect(visible.join('\n')).not.toContain(fakeEndpointsToken)
    const writes = () => fake.state.requests.filter((r) => r.method !== 'GET').length
    const before = writes()
    const again = await create()
    expect(again.exitCode, again.output).toBe(0)
    expect(again.output).toContain('nothing changed: the endpoint already matches')
    expect(writes()).toBe(before)
  })

  it('a wrong token fails the step with what to do', async () => {
    const run = await create({}, 'hf_wrongTokenE2E000000000000000000')
    expect(run.exitCode).toBe(1)
    expect(run.stdout).toContain('::error::the Endpoints API rejected hf-token (401)')
  })
})
