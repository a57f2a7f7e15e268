import { afterEach, describe, expect, it } from 'vitest'
import { ConfigurationError, ServiceError } from '../../src/errors.js'
import { serviceVariablesQuery } from '../../src/railway/documents.js'
import { COGNITIA, type RailwayFake, startRailwayFake } from '../fakes/railway.js'
import { fakeClient } from '../fakes/railway-harness.js'

let fake: RailwayFake
afterEach(async () => {
  await fake.close()
})

/** A Railway reference variable, as the dashboard stores it (not a JS template). */
const REFERENCE_URL = ['http://$', '{{ollama.RAILWAY_PRIVATE_DOMAIN}}:11434'].join('')

const ids = { projectId: COGNITIA.projectId, environmentId: COGNITIA.environmentId }

describe('RailwayClient lookups', () => {
  it('resolves names with a project token, sent as Project-Access-Token', async () => {
    fake = await startRailwayFake()
    const { client } = fakeClient(fake)
    const target = await client.resolveTarget({ environment: 'production', services: ['cognitia', 'ollama'] })
    expect(target).toEqual({
      ...ids,
      projectName: 'cognitia',
      environmentName: 'production',
      services: { cognitia: COGNITIA.cognitiaServiceId, ollama: COGNITIA.ollamaServiceId },
    })
    expect(fake.state.calls.map((c) => c.operation)).toEqual(['ProjectToken', 'ProjectTopology'])
  })

  it('finds a project by name with an account token (Bearer)', async () => {
    fake = await startRailwayFake()
    const { client } = fakeClient(fake, { token: COGNITIA.accountToken, tokenKind: 'account' })
    const target = await client.resolveTarget({
      project: 'cognitia',
      environment: 'production',
      services: ['cognitia'],
    })
    expect(target.projectId).toBe(COGNITIA.projectId)
    expect(fake.state.calls.map((c) => c.operation)).toEqual(['Projects', 'ProjectTopology'])
  })

  it('names what exists when a project, environment or service is missing', async () => {
    fake = await startRailwayFake()
    const account = fakeClient(fake, { token: COGNITIA.accountToken, tokenKind: 'account' }).client
    await expect(
      account.resolveTarget({ project: 'cognitai', environment: 'production', services: [] }),
    ).rejects.toThrow(/no Railway project named "cognitai"; it sees: cognitia/)
    await expect(account.resolveTarget({ environment: 'production', services: [] })).rejects.toThrow(
      /project input is required with a account token/,
    )
    const { client } = fakeClient(fake)
    await expect(client.resolveTarget({ environment: 'staging', services: [] })).rejects.toThrow(
      /no environment "staging".*available: production/,
    )
    await expect(client.resolveTarget({ environment: 'production', services: ['olama'] })).rejects.toThrow(
      /no service "olama"; available: cognitia, ollama, postgres/,
    )
  })

  it('turns a refused token into a ConfigurationError about railway-token-kind, without the token', async () => {
    fake = await startRailwayFake()
    const { client } = fakeClient(fake, { token: COGNITIA.projectToken, tokenKind: 'workspace' })
    const error = await client
      .resolveTarget({ project: 'cognitia', environment: 'production', services: [] })
      .catch((e) => e)
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error.message).toMatch(/Not Authorized.*railway-token-kind "workspace"/)
    expect(error.message).not.toContain(COGNITIA.projectToken)
  })

  it('reads variables unrendered: a reference stays as written', async () => {
    fake = await startRailwayFake()
    fake.state.setVariable(COGNITIA.cognitiaServiceId, COGNITIA.environmentId, 'OLLAMA_BASE_URL', REFERENCE_URL)
    const { client } = fakeClient(fake)
    const target = await client.resolveTarget({ environment: 'production', services: ['cognitia'] })
    const variables = await client.serviceVariables(target, COGNITIA.cognitiaServiceId)
    expect(variables.OLLAMA_BASE_URL).toBe(REFERENCE_URL)
    expect(fake.state.calls.at(-1)?.operation).toBe('ServiceVariables')
  })
})

describe('RailwayClient reliability', () => {
  const readVariables = (f: RailwayFake, options = {}) =>
    fakeClient(f, options).client.query(serviceVariablesQuery, { ...ids, serviceId: COGNITIA.cognitiaServiceId })

  it('waits as long as Retry-After says on a 429, then reads', async () => {
    fake = await startRailwayFake()
    fake.failNext({ kind: 'rate-limit', retryAfterSeconds: 7 }, 'ServiceVariables')
    const setup = fakeClient(fake)
    const { variables } = await setup.client.query(serviceVariablesQuery, {
      ...ids,
      serviceId: COGNITIA.cognitiaServiceId,
    })
    expect(variables.OLLAMA_BASE_URL).toBe(COGNITIA.ollamaUrl)
    expect(setup.clock.sleeps).toEqual([7000])
    expect(setup.logger.lines.join('\n')).toMatch(/rate limited \(HTTP 429\).*retrying in 7 s/)
  })

  it('a 429 on a write quotes the wait Railway asked for, not the hourly limit', async () => {
    fake = await startRailwayFake()
    fake.failNext({ kind: 'rate-limit', retryAfterSeconds: 1 }, 'UpsertVariables')
    const { client } = fakeClient(fake)
    const target = await client.resolveTarget({ environment: 'production', services: ['cognitia'] })
    const error = await client
      .upsertVariables(target, COGNITIA.cognitiaServiceId, { OLLAMA_MODEL: 'phi3' })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ServiceError)
    expect((error as ServiceError).message).toMatch(/rate limited \(HTTP 429\) — wait 1 s \(as the server asked\)/)
    expect((error as ServiceError).message).not.toMatch(/hourly limit/)
  })

  it.each([
    ['HTTP 502', { kind: 'status', status: 502 } as const],
    ['no answer within', { kind: 'hang' } as const],
    ['unreadable reply', { kind: 'malformed' } as const],
  ])('retries a read after %s', async (label, fault) => {
    fake = await startRailwayFake()
    fake.failNext(fault, 'ServiceVariables')
    const { client, logger } = fakeClient(fake, { timeoutMs: 300 })
    const { variables } = await client.query(serviceVariablesQuery, { ...ids, serviceId: COGNITIA.cognitiaServiceId })
    expect(variables.OLLAMA_BASE_URL).toBe(COGNITIA.ollamaUrl)
    expect(fake.state.calls.map((c) => c.result)).toEqual([fault.kind, 'ok'])
    expect(logger.lines.join('\n')).toContain(label)
  })

  it('gives up after the attempts with an error that says what to do', async () => {
    fake = await startRailwayFake()
    fake.inject({ fault: { kind: 'status', status: 503 }, times: Number.POSITIVE_INFINITY })
    const error = await readVariables(fake, { readAttempts: 3 }).catch((e) => e)
    expect(error).toBeInstanceOf(ServiceError)
    expect(error.message).toMatch(/ServiceVariables: HTTP 503 — check https:\/\/status.railway.com/)
    expect(fake.state.calls).toHaveLength(3)
  })

  it('does not retry an HTTP 401 and says to check the token', async () => {
    fake = await startRailwayFake()
    fake.failNext({ kind: 'status', status: 401 }, 'ServiceVariables')
    const error = await readVariables(fake).catch((e) => e)
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error.message).toMatch(/refused the token \(HTTP 401; not authorized\)/)
    expect(fake.state.calls).toHaveLength(1)
  })

  it('never retries a write', async () => {
    fake = await startRailwayFake()
    fake.failNext({ kind: 'status', status: 500 }, 'DeployService')
    const { client } = fakeClient(fake)
    await expect(client.deploy(COGNITIA.environmentId, COGNITIA.cognitiaServiceId)).rejects.toThrow(/HTTP 500/)
    expect(fake.state.calls.filter((c) => c.operation === 'DeployService')).toHaveLength(1)
    expect(fake.state.deploymentsOf('cognitia')).toHaveLength(1)
  })
})

describe('RailwayClient deployments', () => {
  it('polls a deployment to SUCCESS, logging each status once', async () => {
    fake = await startRailwayFake()
    const { client, logger, clock } = fakeClient(fake)
    const id = await client.deploy(COGNITIA.environmentId, COGNITIA.cognitiaServiceId)
    const final = await client.waitForDeployment(id, 60_000)
    expect(final.status).toBe('SUCCESS')
    expect(logger.lines.filter((l) => l.startsWith(`deployment ${id}`))).toEqual([
      `deployment ${id}: BUILDING`,
      `deployment ${id}: DEPLOYING`,
      `deployment ${id}: SUCCESS`,
    ])
    expect(clock.sleeps).toEqual([5000, 5000])
  })

  it('returns a FAILED deployment and times out on one that never finishes', async () => {
    fake = await startRailwayFake()
    const { client } = fakeClient(fake)
    fake.state.setOutcome('cognitia', 'FAILED')
    const failed = await client.deploy(COGNITIA.environmentId, COGNITIA.cognitiaServiceId)
    expect((await client.waitForDeployment(failed, 60_000)).status).toBe('FAILED')
    fake.state.setOutcome('cognitia', 'STUCK')
    const stuck = await client.deploy(COGNITIA.environmentId, COGNITIA.cognitiaServiceId)
    await expect(client.waitForDeployment(stuck, 60_000)).rejects.toThrow(
      /gave up waiting for Railway deployment .* after 60 s/,
    )
  })
})
