import * as core from '@actions/core'
import {
  type DeployRequest,
  type DeployResult,
  deploySpace,
  parseVariables,
  spaceSecretNames,
} from '../../../src/hf/deploy.js'
import { SpaceManager } from '../../../src/hf/space-manager.js'
import { spaceUrls } from '../../../src/hf/space-urls.js'
import { actionInputs, secretInput } from '../../common/inputs.js'
import { coreLogger, failRun } from '../../common/toolkit.js'

export const Inputs = {
  space: 'space',
  hfToken: 'hf-token',
  private: 'private',
  runtime: 'runtime',
  hardware: 'hardware',
  spaceDir: 'space-dir',
  apiKey: 'api-key',
  hfReadToken: 'hf-read-token',
  variables: 'variables',
  waitTimeoutMinutes: 'wait-timeout-minutes',
  dryRun: 'dry-run',
} as const

/** Every default comes from this action's action.yml. */
const input = actionInputs(new URL('../action.yml', import.meta.url))

export const Outputs = {
  spaceId: 'space-id',
  spaceUrl: 'space-url',
  apiBaseUrl: 'api-base-url',
  commitSha: 'commit-sha',
} as const

function readInputs(): DeployRequest & { token: string } {
  const token = secretInput(Inputs.hfToken, { required: true }) ?? ''
  const apiKey = secretInput(Inputs.apiKey)
  const hfReadToken = secretInput(Inputs.hfReadToken)
  const runtime = input.choice(Inputs.runtime, ['zerogpu', 'docker'] as const)
  const minutes = input.number(Inputs.waitTimeoutMinutes, { min: 1, max: 360 })
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: runId } = process.env
  const runUrl = repo && runId ? `${server ?? 'https://github.com'}/${repo}/actions/runs/${runId}` : undefined
  const spaceDir = input.required(Inputs.spaceDir)
  return {
    token,
    spaceId: input.required(Inputs.space),
    private: input.boolean(Inputs.private),
    runtime,
    hardware: input.required(Inputs.hardware),
    folder: spaceDir,
    secrets: {
      ...(apiKey ? { [spaceSecretNames.apiKey]: apiKey } : {}),
      ...(hfReadToken ? { [spaceSecretNames.hfReadToken]: hfReadToken } : {}),
    },
    variables: parseVariables(input.optional(Inputs.variables) ?? ''),
    commitMessage: runUrl
      ? `Deploy ${spaceDir}/ from ${repo} run ${runId}`
      : `Deploy ${spaceDir}/ (run outside GitHub Actions)`,
    commitDescription: runUrl,
    waitTimeoutMs: minutes * 60_000,
    dryRun: input.boolean(Inputs.dryRun),
  }
}

async function writeSummary(result: DeployResult, request: DeployRequest): Promise<void> {
  const title = request.dryRun ? `Space ${result.spaceId} (dry run)` : `Space ${result.spaceId}`
  await core.summary
    .addHeading(title, 2)
    .addTable([
      [
        { data: 'Item', header: true },
        { data: 'Value', header: true },
      ],
      ['Space', result.spaceUrl],
      ['API base URL', result.apiBaseUrl],
      ['Runtime / hardware', `${request.runtime} / ${result.hardware ?? request.hardware}`],
      ['Stage', result.stage],
      ['Commit', result.commitSha || '—'],
      [request.dryRun ? 'Would change' : 'Changed', result.changes.join('; ') || 'nothing'],
    ])
    .addRaw(request.dryRun ? 'Nothing was changed.' : 'Next: pull the models (pull-models job).', true)
    .write()
}

export async function run(): Promise<void> {
  try {
    const request = readInputs()
    const urls = spaceUrls(request.spaceId)
    core.setOutput(Outputs.spaceId, request.spaceId)
    core.setOutput(Outputs.spaceUrl, urls.spaceUrl)
    core.setOutput(Outputs.apiBaseUrl, urls.apiBaseUrl)
    const manager = new SpaceManager({
      token: request.token,
      hubUrl: process.env.HF_ENDPOINT || 'https://huggingface.co',
      logger: coreLogger,
    })
    const result = await deploySpace(manager, request, coreLogger, (sha) => core.setOutput(Outputs.commitSha, sha))
    if (request.dryRun) core.setOutput(Outputs.commitSha, result.commitSha)
    await writeSummary(result, request)
    core.notice(
      request.dryRun
        ? `dry run: ${result.changes.length} change(s) planned for ${result.spaceId}`
        : `${result.spaceId} is ${result.stage}: ${result.apiBaseUrl}`,
    )
  } catch (error) {
    failRun(error)
  }
}
