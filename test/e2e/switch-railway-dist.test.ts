import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { COGNITIA, type RailwayFake, startRailwayFake } from '../fakes/railway.js'
import { HF_TOKEN, SPACE_URL } from '../fakes/railway-harness.js'
import { type ActionRun, runAction } from '../support/run-action.js'

let fake: RailwayFake
beforeEach(async () => {
  fake = await startRailwayFake()
})
afterEach(async () => {
  await fake.close()
})

const base = { 'railway-token': COGNITIA.projectToken, 'github-token': '', 'poll-interval-seconds': '0' }
const run = (inputs: Record<string, string>) =>
  runAction('switch-railway', { ...base, ...inputs }, { RAILWAY_API_URL: fake.url })

/** Everything the runner would show or keep, with the mask commands themselves left out. */
function visible(result: ActionRun): string {
  const printed = `${result.stdout}\n${result.stderr}`
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n')
  return [printed, result.summary, JSON.stringify(result.outputs)].join('\n')
}

describe('switch-railway dist bundle', () => {
  it('fails with the runner error when the Railway token is missing', async () => {
    const result = await runAction('switch-railway', { mode: 'switch' }, { RAILWAY_API_URL: fake.url })
    expect(result.exitCode).toBe(1)
    expect(result.stdout).toContain('::error::Input required and not supplied: railway-token')
    expect(fake.state.calls).toEqual([])
  })

  it('switches Cognitia to the Space with action.yml defaults, masking the tokens', async () => {
    const result = await run({ mode: 'switch', 'space-url': SPACE_URL, 'hf-token': HF_TOKEN })
    expect(result.exitCode, result.stdout).toBe(0)
    expect(result.outputs).toEqual({
      'previous-url': COGNITIA.ollamaUrl,
      'current-url': SPACE_URL,
      'deployment-id': fake.state.deploymentsOf('cognitia').at(-1)?.id,
    })
    expect(fake.state.variablesOf('cognitia')).toMatchObject({
      OLLAMA_BASE_URL: SPACE_URL,
      ZEROLLAMA_PREVIOUS_OLLAMA_BASE_URL: COGNITIA.ollamaUrl,
      OLLAMA_HF_TOKEN: HF_TOKEN,
    })
    expect(result.stdout).toContain(`::add-mask::${COGNITIA.projectToken}`)
    expect(result.stdout).toContain(`::add-mask::${HF_TOKEN}`)
    expect(result.stdout).toContain(`::add-mask::${COGNITIA.databaseUrl}`)
    for (const secret of [COGNITIA.projectToken, HF_TOKEN, COGNITIA.databaseUrl]) {
      expect(visible(result)).not.toContain(secret)
    }
    expect(result.summary).toContain('<h2>Railway switch</h2>')
    expect(result.summary).toMatch(/<td>cognitia OLLAMA_BASE_URL<\/td><td>http:\/\/ollama.railway.internal:11434<\/td>/)
  })

  it('dry-run rollback without a record stops, and with restore-default prints the plan; neither writes', async () => {
    fake.state.setVariable(COGNITIA.cognitiaServiceId, COGNITIA.environmentId, 'OLLAMA_BASE_URL', SPACE_URL)
    const refused = await run({ mode: 'rollback', 'dry-run': 'true' })
    expect(refused.exitCode, refused.stdout).toBe(1)
    expect(refused.stdout).toMatch(/::error::there is no record of the value switch replaced.*restore-default: true/)
    const result = await run({ mode: 'rollback', 'dry-run': 'true', 'restore-default': 'true' })
    expect(result.exitCode, result.stdout).toBe(0)
    expect(result.stdout).toContain(`OLLAMA_BASE_URL: ${SPACE_URL} → ${COGNITIA.ollamaUrl}`)
    expect(fake.state.calls.map((c) => c.operation)).not.toContain('UpsertVariables')
    expect(fake.state.variable('cognitia', 'OLLAMA_BASE_URL')).toBe(SPACE_URL)
  })

  it('decommission then reactivate the old Ollama service with an account token', async () => {
    await run({ mode: 'switch', 'space-url': SPACE_URL })
    const account = {
      'railway-token': COGNITIA.accountToken,
      'railway-token-kind': 'account',
      'railway-project': 'cognitia',
    }
    const stopped = await run({ mode: 'decommission', ...account })
    expect(stopped.exitCode, stopped.stdout).toBe(0)
    expect(fake.state.isRunning('ollama')).toBe(false)
    const started = await run({ mode: 'reactivate', ...account })
    expect(started.exitCode, started.stdout).toBe(0)
    expect(fake.state.isRunning('ollama')).toBe(true)
    expect(visible(started)).not.toContain(COGNITIA.accountToken)
  })
})
