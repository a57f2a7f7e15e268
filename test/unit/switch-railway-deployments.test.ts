import { describe, expect, it, vi } from 'vitest'
import { type DeploymentsApi, startDeploymentRecord } from '../../src/deployments.js'
import { recordingLogger } from '../../src/logger.js'

const request = {
  owner: 'acme',
  repo: 'zerollama',
  ref: 'abc123',
  environment: 'railway-cognitia',
  description: 'switch cognitia (production)',
  payload: { mode: 'switch' },
  logUrl: 'https://github.com/acme/zerollama/actions/runs/42',
}

function api(created: Awaited<ReturnType<DeploymentsApi['createDeployment']>> = { data: { id: 11 } }) {
  return {
    createDeployment: vi.fn<DeploymentsApi['createDeployment']>(async () => created),
    createDeploymentStatus: vi.fn<DeploymentsApi['createDeploymentStatus']>(async () => ({})),
  }
}

describe('GitHub Deployment record', () => {
  it('creates a deployment without merging or status checks, then in_progress → success', async () => {
    const github = api()
    const record = await startDeploymentRecord(github, request, recordingLogger())
    await record?.finish('success', 'switch: https://acme-zerollama.hf.space', 'https://acme-zerollama.hf.space')
    expect(github.createDeployment).toHaveBeenCalledWith(
      expect.objectContaining({ auto_merge: false, required_contexts: [], environment: 'railway-cognitia' }),
    )
    expect(
      github.createDeploymentStatus.mock.calls.map(([p]) => [p.deployment_id, p.state, p.environment_url]),
    ).toEqual([
      [11, 'in_progress', undefined],
      [11, 'success', 'https://acme-zerollama.hf.space'],
    ])
  })

  it('warns and records nothing when GitHub answers without an id (e.g. a merge message)', async () => {
    const logger = recordingLogger()
    const github = api({ data: { message: 'Auto-merged main into topic' } })
    expect(await startDeploymentRecord(github, request, logger)).toBeUndefined()
    expect(logger.lines).toEqual(['warning: not recording a GitHub Deployment: Auto-merged main into topic'])
  })

  it('a failing status update only warns, and long descriptions are cut to 140 characters', async () => {
    const logger = recordingLogger()
    const github = api()
    const record = await startDeploymentRecord(github, request, logger)
    github.createDeploymentStatus.mockRejectedValueOnce(Object.assign(new Error('Not Found'), { status: 404 }))
    await expect(record?.finish('failure', 'x'.repeat(300))).resolves.toBeUndefined()
    expect(github.createDeploymentStatus.mock.calls.at(-1)?.[0].description).toHaveLength(140)
    expect(logger.lines.at(-1)).toMatch(/could not set GitHub Deployment 11 to failure: .*deployments: write/)
  })
})
