import { afterEach, describe, expect, it } from 'vitest'
import { COGNITIA, type RailwayFake, startRailwayFake } from '../fakes/railway.js'

let fake: RailwayFake | undefined
afterEach(async () => {
  await fake?.close().catch(() => undefined)
  fake = undefined
})

async function post(url: string, body: unknown, token: string = COGNITIA.accountToken) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  })
  return {
    status: response.status,
    body: (await response.json()) as { data?: unknown; errors?: { message: string }[] },
  }
}

describe('Railway fake', () => {
  it('rejects a document the real schema does not have, and close() then fails the test', async () => {
    fake = await startRailwayFake()
    const reply = await post(fake.url, {
      operationName: 'Bad',
      query: 'mutation Bad($id: String!) { deploymentRollback(id: $id) { id status } }',
      variables: { id: 'x' },
    })
    expect(reply.status).toBe(400)
    expect(reply.body.errors?.[0]?.message).toMatch(/must not have a selection/)
    await expect(fake.close()).rejects.toThrow(/schema rejects/)
    fake = undefined
  })

  it('rejects variables of the wrong type', async () => {
    fake = await startRailwayFake()
    await post(fake.url, {
      operationName: 'D',
      query:
        'mutation D($serviceId: String!, $environmentId: String!) { serviceInstanceDeployV2(serviceId: $serviceId, environmentId: $environmentId) }',
      variables: { serviceId: 42 },
    })
    expect(fake.state.invalidDocuments.join()).toMatch(/environmentId/)
    expect(fake.state.deployments).toHaveLength(3)
    await expect(fake.close()).rejects.toThrow()
    fake = undefined
  })

  it('answers a valid query from its state and refuses an unknown token like Railway', async () => {
    fake = await startRailwayFake()
    const query = {
      operationName: 'V',
      query:
        'query V($p: String!, $e: String!, $s: String) { variables(projectId: $p, environmentId: $e, serviceId: $s, unrendered: true) }',
      variables: { p: COGNITIA.projectId, e: COGNITIA.environmentId, s: COGNITIA.cognitiaServiceId },
    }
    const ok = await post(fake.url, query)
    expect(ok.body.data).toEqual({ variables: expect.objectContaining({ OLLAMA_BASE_URL: COGNITIA.ollamaUrl }) })
    const refused = await post(fake.url, query, 'wrong-token')
    expect(refused.body.errors?.[0]?.message).toBe('Not Authorized')
  })

  it('moves a deployment BUILDING → DEPLOYING → SUCCESS over polls and retires the old one', async () => {
    fake = await startRailwayFake()
    const deploy = await post(fake.url, {
      operationName: 'Deploy',
      query: 'mutation Deploy($s: String!, $e: String!) { serviceInstanceDeployV2(serviceId: $s, environmentId: $e) }',
      variables: { s: COGNITIA.cognitiaServiceId, e: COGNITIA.environmentId },
    })
    const id = (deploy.body.data as { serviceInstanceDeployV2: string }).serviceInstanceDeployV2
    const seen: string[] = []
    for (let i = 0; i < 4; i++) {
      const poll = await post(fake.url, {
        operationName: 'Poll',
        query: 'query Poll($id: String!) { deployment(id: $id) { id status } }',
        variables: { id },
      })
      seen.push((poll.body.data as { deployment: { status: string } }).deployment.status)
    }
    expect(seen).toEqual(['BUILDING', 'DEPLOYING', 'SUCCESS', 'SUCCESS'])
    expect(fake.state.deploymentsOf('cognitia').map((d) => d.status)).toEqual(['REMOVED', 'SUCCESS'])
  })

  it('injects a 429 with Retry-After for one named operation', async () => {
    fake = await startRailwayFake()
    fake.failNext({ kind: 'rate-limit', retryAfterSeconds: 7 }, 'Q')
    const response = await fetch(fake.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${COGNITIA.accountToken}` },
      body: JSON.stringify({ operationName: 'Q', query: 'query Q { projects { edges { node { id } } } }' }),
    })
    expect(response.status).toBe(429)
    expect(response.headers.get('retry-after')).toBe('7')
    expect(fake.state.calls.map((c) => c.result)).toEqual(['rate-limit'])
  })
})
