import * as core from '@actions/core'
import * as github from '@actions/github'
import { type DeploymentRecord, startDeploymentRecord } from '../../../src/deployments.js'
import { errorMessage } from '../../../src/errors.js'
import { RailwayClient } from '../../../src/railway/client.js'
import { displayUrl } from '../../../src/railway/plans.js'
import { type ModeResult, runMode } from '../../../src/railway/switch.js'
import { maskSecret } from '../../common/inputs.js'
import { coreLogger, failRun } from '../../common/toolkit.js'
import { type Inputs, readInputs } from './inputs.js'

const nextSteps: Record<Inputs['mode'], string> = {
  switch: 'Validate Cognitia through its new backend; undo with mode=rollback.',
  rollback: 'Cognitia uses the old Ollama service again; find out why the Space failed before switching again.',
  decommission: 'The old Ollama service is stopped, not deleted; mode=reactivate starts it again.',
  reactivate: 'The old Ollama service runs again; mode=rollback points Cognitia back at it.',
}

export async function run(): Promise<void> {
  try {
    const inputs = readInputs()
    const client = new RailwayClient({
      token: inputs.railwayToken,
      tokenKind: inputs.tokenKind,
      endpoint: process.env.RAILWAY_API_URL || undefined,
      logger: coreLogger,
      pollIntervalMs: inputs.pollIntervalMs,
    })
    const settings = { ...inputs, onSecret: maskSecret }
    const record = inputs.dryRun ? undefined : await recordDeployment(inputs)
    let result: ModeResult
    try {
      result = await runMode(inputs.mode, client, settings, coreLogger)
    } catch (error) {
      await record?.finish('failure', `${inputs.mode} failed: ${errorMessage(error)}`)
      throw error
    }
    core.setOutput('previous-url', displayUrl(result.before.url))
    core.setOutput('current-url', displayUrl(result.after.url))
    core.setOutput('deployment-id', result.deploymentId ?? '')
    await record?.finish('success', `${inputs.mode}: ${displayUrl(result.after.url)}`, result.after.url)
    core.notice(
      `${inputs.mode}${inputs.dryRun ? ' (dry run)' : ''}: ${result.changed ? 'changed' : 'nothing to change'}`,
    )
    await writeSummary(inputs, result)
  } catch (error) {
    failRun(error)
  }
}

/** A GitHub Deployment per real change, when the job's token may create one; never fails the run. */
async function recordDeployment(inputs: Inputs): Promise<DeploymentRecord | undefined> {
  // The runner always sets GITHUB_API_URL; without it this is not a workflow run (the CLI, the
  // rehearsal), and nothing may reach api.github.com by accident.
  const { GITHUB_REPOSITORY: repository, GITHUB_API_URL: apiUrl } = process.env
  if (!inputs.githubToken || !repository || !apiUrl) {
    core.debug('no github-token, repository or GITHUB_API_URL (not a workflow run): not recording a GitHub Deployment')
    return undefined
  }
  const { owner, repo } = github.context.repo
  const runUrl = `${github.context.serverUrl}/${repository}/actions/runs/${github.context.runId}`
  return startDeploymentRecord(
    github.getOctokit(inputs.githubToken, { baseUrl: apiUrl }).rest.repos,
    {
      owner,
      repo,
      ref: github.context.sha,
      environment: `railway-${inputs.service}`,
      description: `${inputs.mode} ${inputs.service} (${inputs.environment})`,
      payload: { mode: inputs.mode, spaceUrl: displayUrl(inputs.spaceUrl), railwayEnvironment: inputs.environment },
      logUrl: runUrl,
    },
    coreLogger,
  )
}

async function writeSummary(inputs: Inputs, result: ModeResult): Promise<void> {
  const state = (running: boolean | undefined) => (running === undefined ? '—' : running ? 'running' : 'stopped')
  await core.summary
    .addHeading(`Railway ${inputs.mode}${inputs.dryRun ? ' (dry run, nothing changed)' : ''}`, 2)
    .addTable([
      [
        { data: 'What', header: true },
        { data: 'Before', header: true },
        { data: 'After', header: true },
      ],
      [`${inputs.service} ${inputs.variable}`, displayUrl(result.before.url), displayUrl(result.after.url)],
      [`${inputs.ollamaService} service`, state(result.before.ollamaRunning), state(result.after.ollamaRunning)],
      ['Deployment', '', result.deploymentId ?? '—'],
    ])
    .addHeading('Plan', 3)
    .addList(result.plan)
    .addRaw(`Recorded previous URL: ${displayUrl(result.recordedPreviousUrl)}. ${nextSteps[inputs.mode]}`, true)
    .write()
}
