/**
 * Records a change as a GitHub Deployment with statuses, so the repository's Environments page
 * shows when Cognitia was switched or rolled back, by which run, from what to what.
 * Best effort: the change itself matters, the record does not, so every failure here is a warning.
 * The API is the slice of Octokit's `rest.repos` we call; actions pass `getOctokit(token).rest.repos`.
 */
import { errorMessage } from './errors.js'
import type { Logger } from './logger.js'

export interface DeploymentsApi {
  createDeployment(
    params: Omit<DeploymentRequest, 'logUrl'> & {
      auto_merge: boolean
      required_contexts: string[]
      production_environment: boolean
    },
  ): Promise<{ data: { id?: number; message?: string } }>
  createDeploymentStatus(params: {
    owner: string
    repo: string
    deployment_id: number
    state: DeploymentState
    description: string
    log_url?: string
    environment_url?: string
  }): Promise<unknown>
}

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error' | 'inactive'

export interface DeploymentRequest {
  owner: string
  repo: string
  /** The commit the workflow runs at. */
  ref: string
  /** GitHub environment name the record appears under, e.g. `railway-cognitia`. */
  environment: string
  description: string
  /** Ids and URLs only: the payload is readable by anyone who can read the repository. */
  payload: Record<string, string>
  /** The workflow run, linked from the status. */
  logUrl?: string
}

export interface DeploymentRecord {
  id: number
  /** Sets the final status; never throws. */
  finish(state: DeploymentState, description: string, environmentUrl?: string): Promise<void>
}

/** Creates the deployment and marks it in progress; undefined (with a warning) when the token may not. */
export async function startDeploymentRecord(
  api: DeploymentsApi,
  request: DeploymentRequest,
  logger: Logger,
): Promise<DeploymentRecord | undefined> {
  const { owner, repo, logUrl } = request
  let id: number
  try {
    const { data } = await api.createDeployment({
      owner,
      repo,
      ref: request.ref,
      environment: request.environment,
      description: limit(request.description),
      payload: request.payload,
      // A record of a change already approved by the workflow gate: no merge, no status checks.
      auto_merge: false,
      required_contexts: [],
      production_environment: true,
    })
    if (data.id === undefined) throw new Error(data.message ?? 'GitHub created no deployment')
    id = data.id
  } catch (error) {
    logger.warning(`not recording a GitHub Deployment: ${explain(error)}`)
    return undefined
  }
  const setStatus = async (state: DeploymentState, description: string, environmentUrl?: string) => {
    try {
      await api.createDeploymentStatus({
        owner,
        repo,
        deployment_id: id,
        state,
        description: limit(description),
        log_url: logUrl,
        environment_url: environmentUrl,
      })
    } catch (error) {
      logger.warning(`could not set GitHub Deployment ${id} to ${state}: ${explain(error)}`)
    }
  }
  await setStatus('in_progress', request.description)
  logger.info(`recording GitHub Deployment ${id} (${request.environment})`)
  return { id, finish: setStatus }
}

/** GitHub caps descriptions at 140 characters. */
function limit(text: string): string {
  return text.length > 140 ? `${text.slice(0, 139)}…` : text
}

function explain(error: unknown): string {
  const status = (error as { status?: number } | null)?.status
  if (status === 403 || status === 404) {
    return `the token may not create deployments (HTTP ${status}); give the job \`permissions: deployments: write\` to record them — the Railway change is unaffected`
  }
  return errorMessage(error)
}
