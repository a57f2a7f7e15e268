import { afterEach, describe, expect, it } from 'vitest'
import { planSwitch } from '../../src/railway/plans.js'
import { decommission, reactivate, readRailwayStatus, rollback, switchToSpace } from '../../src/railway/switch.js'
import { COGNITIA, type RailwayFake, startRailwayFake } from '../fakes/railway.js'
import { fakeClient, HF_TOKEN, SPACE_URL, switchSettings } from '../fakes/railway-harness.js'

const PREVIOUS = 'ZEROLLAMA_PREVIOUS_OLLAMA_BASE_URL'
const WRITES = ['UpsertVariables', 'DeployService', 'RemoveDeployment']

let fake!: RailwayFake
const started: RailwayFake[] = []
afterEach(async () => {
  for (const f of started.splice(0)) await f.close()
})
async function start(): Promise<RailwayFake> {
  fake = await startRailwayFake()
  started.push(fake)
  return fake
}

const writesSent = () => fake.state.calls.filter((c) => WRITES.includes(c.operation)).map((c) => c.operation)

describe('planSwitch', () => {
  it('records the old URL once and never records the Space as the old one', () => {
    const first = planSwitch({ OLLAMA_BASE_URL: COGNITIA.ollamaUrl }, switchSettings())
    expect(first.upsert).toEqual({ OLLAMA_BASE_URL: SPACE_URL, [PREVIOUS]: COGNITIA.ollamaUrl })
    expect(first.lines[0]).toBe(`OLLAMA_BASE_URL: ${COGNITIA.ollamaUrl} → ${SPACE_URL}`)
    expect(first.lines[1]).toBe(`${PREVIOUS}: (unset) → ${COGNITIA.ollamaUrl}`)
    const rerun = planSwitch({ OLLAMA_BASE_URL: SPACE_URL, [PREVIOUS]: COGNITIA.ollamaUrl }, switchSettings())
    expect(rerun.upsert).toEqual({})
    const lostRecord = planSwitch({ OLLAMA_BASE_URL: SPACE_URL }, switchSettings())
    expect(lostRecord.upsert).toEqual({})
    expect(lostRecord.lines.join('\n')).toMatch(/nothing to record; a rollback will need restore-default/)
  })

  it('blanks an older record when the variable was unset, so a rollback cannot restore it', () => {
    const plan = planSwitch({ [PREVIOUS]: COGNITIA.ollamaUrl }, switchSettings())
    expect(plan.upsert).toEqual({ OLLAMA_BASE_URL: SPACE_URL, [PREVIOUS]: '' })
    expect(plan.recordedPrevious).toBeUndefined()
  })

  it('keeps the original record when moving from one Space to another, and adds the HF token', () => {
    const plan = planSwitch(
      { OLLAMA_BASE_URL: 'https://acme-old.hf.space', [PREVIOUS]: COGNITIA.ollamaUrl },
      switchSettings({ hfToken: HF_TOKEN }),
    )
    expect(plan.upsert).toEqual({ OLLAMA_BASE_URL: SPACE_URL, OLLAMA_HF_TOKEN: HF_TOKEN })
    expect(plan.lines.join('\n')).not.toContain(HF_TOKEN)
  })
})

describe('switchToSpace', () => {
  it('dry run prints the plan and sends no write', async () => {
    await start()
    const { client, logger } = fakeClient(fake)
    const result = await switchToSpace(client, switchSettings({ dryRun: true }), logger)
    expect(logger.lines.join('\n')).toContain(`OLLAMA_BASE_URL: ${COGNITIA.ollamaUrl} → ${SPACE_URL}`)
    expect(result).toMatchObject({ dryRun: true, changed: false, before: { url: COGNITIA.ollamaUrl } })
    expect(writesSent()).toEqual([])
    expect(fake.state.variable('cognitia', 'OLLAMA_BASE_URL')).toBe(COGNITIA.ollamaUrl)
  })

  it('writes URL, record and HF token in one upsert, deploys once and waits for SUCCESS', async () => {
    await start()
    const { client, logger } = fakeClient(fake)
    const secrets: string[] = []
    const result = await switchToSpace(
      client,
      switchSettings({ hfToken: HF_TOKEN, onSecret: (s: string) => secrets.push(s) }),
      logger,
    )
    expect(writesSent()).toEqual(['UpsertVariables', 'DeployService'])
    const upsert = fake.state.calls.find((c) => c.operation === 'UpsertVariables')
    expect(upsert?.variables).toMatchObject({ input: { skipDeploys: true } })
    expect(fake.state.variablesOf('cognitia')).toMatchObject({
      OLLAMA_BASE_URL: SPACE_URL,
      [PREVIOUS]: COGNITIA.ollamaUrl,
      OLLAMA_HF_TOKEN: HF_TOKEN,
    })
    const deployments = fake.state.deploymentsOf('cognitia')
    expect(deployments.map((d) => d.status)).toEqual(['REMOVED', 'SUCCESS'])
    expect(deployments[1]?.variables.OLLAMA_BASE_URL).toBe(SPACE_URL)
    expect(result).toMatchObject({
      changed: true,
      before: { url: COGNITIA.ollamaUrl },
      after: { url: SPACE_URL },
      recordedPreviousUrl: COGNITIA.ollamaUrl,
      deploymentId: deployments[1]?.id,
    })
    expect(secrets).toContain(COGNITIA.databaseUrl)
    expect(secrets).toContain('pg-s3cret-4d1f')
    expect(secrets).not.toContain(COGNITIA.ollamaUrl)
    expect(secrets).toContain(COGNITIA.sessionSecret)
    expect(secrets).not.toContain('production')
    expect(logger.lines.join('\n')).toContain('Plan for cognitia in cognitia / production:')
    expect(logger.lines.join('\n')).not.toContain(HF_TOKEN)
  })

  it('is idempotent: a re-run writes nothing, deploys nothing and keeps the record', async () => {
    await start()
    const { client, logger } = fakeClient(fake)
    await switchToSpace(client, switchSettings(), logger)
    const before = fake.state.calls.length
    const again = await switchToSpace(client, switchSettings(), logger)
    expect(fake.state.calls.slice(before).filter((c) => WRITES.includes(c.operation))).toEqual([])
    expect(again.changed).toBe(false)
    expect(fake.state.variable('cognitia', PREVIOUS)).toBe(COGNITIA.ollamaUrl)
    expect(fake.state.deploymentsOf('cognitia')).toHaveLength(2)
  })

  it('deploys on a re-run when an earlier run wrote the variable but never deployed', async () => {
    await start()
    const { client, logger } = fakeClient(fake)
    fake.state.setVariable(COGNITIA.cognitiaServiceId, COGNITIA.environmentId, PREVIOUS, COGNITIA.ollamaUrl)
    fake.state.setVariable(COGNITIA.cognitiaServiceId, COGNITIA.environmentId, 'OLLAMA_BASE_URL', SPACE_URL)
    const result = await switchToSpace(client, switchSettings(), logger)
    expect(writesSent()).toEqual(['DeployService'])
    expect(result.changed).toBe(true)
    expect(fake.state.deploymentsOf('cognitia').at(-1)).toMatchObject({ status: 'SUCCESS' })
  })

  it('a FAILED deploy ends with an error that points to rollback; the old deployment keeps running', async () => {
    await start()
    const { client, logger } = fakeClient(fake)
    fake.state.setOutcome('cognitia', 'FAILED')
    await expect(switchToSpace(client, switchSettings(), logger)).rejects.toThrow(
      /ended FAILED — read its build\/deploy logs.*run mode=rollback to restore http:\/\/ollama.railway.internal:11434/,
    )
    expect(fake.state.variable('cognitia', 'OLLAMA_BASE_URL')).toBe(SPACE_URL)
    expect(fake.state.deploymentsOf('cognitia').map((d) => d.status)).toEqual(['SUCCESS', 'FAILED'])
  })

  it('refuses a missing or malformed space-url before calling Railway', async () => {
    await start()
    const { client, logger } = fakeClient(fake)
    await expect(switchToSpace(client, switchSettings({ spaceUrl: '' }), logger)).rejects.toThrow(/needs space-url/)
    await expect(switchToSpace(client, switchSettings({ spaceUrl: 'acme/zerollama' }), logger)).rejects.toThrow(
      /must be an http\(s\) URL/,
    )
    expect(fake.state.calls).toEqual([])
  })
})

describe('the record of the replaced value', () => {
  const V2 = 'http://ollama-v2.railway.internal:11434'

  it('switch → rollback → Cognitia moved to another Ollama → switch → rollback restores that other Ollama', async () => {
    await start()
    const { client, logger } = fakeClient(fake)
    await switchToSpace(client, switchSettings(), logger)
    await rollback(client, switchSettings(), logger)
    expect(fake.state.variable('cognitia', PREVIOUS)).toBe(COGNITIA.ollamaUrl)
    // The operator moves Cognitia to another Ollama by hand; the old record stays behind.
    fake.state.setVariable(COGNITIA.cognitiaServiceId, COGNITIA.environmentId, 'OLLAMA_BASE_URL', V2)

    const switched = await switchToSpace(client, switchSettings(), logger)
    expect(switched.plan).toContain(`${PREVIOUS}: ${COGNITIA.ollamaUrl} → ${V2}`)
    expect(fake.state.variable('cognitia', PREVIOUS)).toBe(V2)
    await rollback(client, switchSettings(), logger)
    expect(fake.state.variable('cognitia', 'OLLAMA_BASE_URL')).toBe(V2)
    expect(fake.state.deploymentsOf('cognitia').at(-1)?.variables.OLLAMA_BASE_URL).toBe(V2)
  })

  it('a rollback when Cognitia is not on a Space leaves the variable alone, whatever the record says', async () => {
    await start()
    fake.state.setVariable(COGNITIA.cognitiaServiceId, COGNITIA.environmentId, PREVIOUS, COGNITIA.ollamaUrl)
    fake.state.setVariable(COGNITIA.cognitiaServiceId, COGNITIA.environmentId, 'OLLAMA_BASE_URL', V2)
    const { client, logger } = fakeClient(fake)
    const result = await rollback(client, switchSettings({ spaceUrl: undefined }), logger)
    expect(fake.state.variable('cognitia', 'OLLAMA_BASE_URL')).toBe(V2)
    expect(result.plan.join('\n')).toMatch(/not on a Space/)
    expect(writesSent().filter((op) => op === 'UpsertVariables')).toEqual([])
  })

  it('a rollback without a usable record says so and restores the default only when told to', async () => {
    await start()
    fake.state.setVariable(COGNITIA.cognitiaServiceId, COGNITIA.environmentId, 'OLLAMA_BASE_URL', SPACE_URL)
    const { client, logger } = fakeClient(fake)
    await expect(rollback(client, switchSettings(), logger)).rejects.toThrow(
      /no record of the value switch replaced.*restore-default/,
    )
    fake.state.setVariable(COGNITIA.cognitiaServiceId, COGNITIA.environmentId, PREVIOUS, SPACE_URL)
    await expect(rollback(client, switchSettings(), logger)).rejects.toThrow(/looks wrong.*restore-default/)
    expect(writesSent()).toEqual([])
    await rollback(client, switchSettings({ restoreDefault: true }), logger)
    expect(fake.state.variable('cognitia', 'OLLAMA_BASE_URL')).toBe(COGNITIA.ollamaUrl)
  })
})

describe('rollback, decommission, reactivate', () => {
  it('decommission refuses while Cognitia still uses the old Ollama service', async () => {
    await start()
    const { client, logger } = fakeClient(fake)
    await expect(decommission(client, switchSettings(), logger)).rejects.toThrow(/run mode=switch first/)
    expect(fake.state.isRunning('ollama')).toBe(true)
  })

  it('switch → decommission → rollback restores the exact value and starts Ollama again', async () => {
    await start()
    const reference = ['http://$', '{{ollama.RAILWAY_PRIVATE_DOMAIN}}:11434'].join('')
    fake.state.setVariable(COGNITIA.cognitiaServiceId, COGNITIA.environmentId, 'OLLAMA_BASE_URL', reference)
    const { client, logger } = fakeClient(fake)
    await switchToSpace(client, switchSettings(), logger)

    const stopped = await decommission(client, switchSettings(), logger)
    expect(stopped).toMatchObject({ changed: true, before: { ollamaRunning: true }, after: { ollamaRunning: false } })
    expect(fake.state.isRunning('ollama')).toBe(false)
    expect(fake.state.serviceId('ollama')).toBe(COGNITIA.ollamaServiceId)
    expect((await decommission(client, switchSettings(), logger)).changed).toBe(false)

    const restored = await rollback(client, switchSettings({ spaceUrl: undefined }), logger)
    expect(fake.state.variable('cognitia', 'OLLAMA_BASE_URL')).toBe(reference)
    expect(fake.state.isRunning('ollama')).toBe(true)
    const latest = fake.state.deploymentsOf('cognitia').at(-1)
    expect(latest).toMatchObject({ status: 'SUCCESS', id: restored.deploymentId })
    expect(latest?.variables.OLLAMA_BASE_URL).toBe(reference)
    expect(restored).toMatchObject({ changed: true, after: { url: reference, ollamaRunning: true } })
  })

  it('a second rollback changes nothing', async () => {
    await start()
    const { client, logger } = fakeClient(fake)
    await switchToSpace(client, switchSettings(), logger)
    await rollback(client, switchSettings(), logger)
    expect(fake.state.variable('cognitia', 'OLLAMA_BASE_URL')).toBe(COGNITIA.ollamaUrl)
    const calls = fake.state.calls.length
    expect((await rollback(client, switchSettings(), logger)).changed).toBe(false)
    expect(fake.state.calls.slice(calls).filter((c) => WRITES.includes(c.operation))).toEqual([])
  })

  it('reactivate deploys a stopped Ollama service and does nothing when it runs', async () => {
    await start()
    const { client, logger } = fakeClient(fake)
    expect((await reactivate(client, switchSettings(), logger)).changed).toBe(false)
    fake.state.stop('ollama')
    const started = await reactivate(client, switchSettings(), logger)
    expect(started).toMatchObject({ changed: true, after: { ollamaRunning: true } })
    expect(fake.state.isRunning('ollama')).toBe(true)
    expect(writesSent()).toEqual(['DeployService'])
  })
})

describe('readRailwayStatus', () => {
  it('reports the current URL, the record and what a rollback would restore', async () => {
    await start()
    const { client, logger } = fakeClient(fake)
    expect(await readRailwayStatus(client, switchSettings())).toEqual({
      projectName: 'cognitia',
      environmentName: 'production',
      currentUrl: COGNITIA.ollamaUrl,
      recordedPreviousUrl: undefined,
      rollbackUrl: COGNITIA.ollamaUrl,
      ollamaRunning: true,
    })
    await switchToSpace(client, switchSettings(), logger)
    expect(await readRailwayStatus(client, switchSettings())).toMatchObject({
      currentUrl: SPACE_URL,
      recordedPreviousUrl: COGNITIA.ollamaUrl,
    })
    expect(writesSent()).toEqual(['UpsertVariables', 'DeployService'])
  })

  it('works without an old Ollama service (ollamaRunning is then undefined)', async () => {
    await start()
    const { client } = fakeClient(fake)
    const status = await readRailwayStatus(client, switchSettings({ ollamaService: 'ollama-gone' }))
    expect(status).toMatchObject({ currentUrl: COGNITIA.ollamaUrl, ollamaRunning: undefined })
  })
})
