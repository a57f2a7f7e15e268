/**
 * The one class that talks to Railway's public GraphQL API. Reads are retried (429 honouring
 * Retry-After, 5xx, timeouts, garbled replies); writes are sent once and never retried here:
 * Railway has no idempotency keys, so the caller reads back to learn whether a lost write applied.
 */
import { request } from 'undici'
import { ConfigurationError, ServiceError } from '../errors.js'
import type { Logger } from '../logger.js'
import { type Clock, pollUntil, rateLimitHint, rateLimitWaitMs, realClock, retryRead } from '../retry.js'
import {
  type Connection,
  type DeploymentStatus,
  type DeploymentSummary,
  deploymentQuery,
  deployServiceMutation,
  type Operation,
  projectsQuery,
  projectTokenQuery,
  projectTopologyQuery,
  removeDeploymentMutation,
  serviceInstanceQuery,
  serviceVariablesQuery,
  upsertVariablesMutation,
  type VariableStamp,
  variableTimestampsQuery,
} from './documents.js'

export const RAILWAY_ENDPOINT = 'https://backboard.railway.com/graphql/v2'
export const TOKEN_KINDS = ['project', 'workspace', 'account'] as const
export type RailwayTokenKind = (typeof TOKEN_KINDS)[number]

export interface RailwayClientOptions {
  token: string
  /** project → `Project-Access-Token` header; workspace/account → `Authorization: Bearer`. */
  tokenKind: RailwayTokenKind
  endpoint?: string
  logger: Logger
  clock?: Clock
  /** Per request; the Railway CLI allows 90 s because some mutations are slow. */
  timeoutMs?: number
  /** Attempts for a read, the first included. */
  readAttempts?: number
  /** Seconds between deployment polls (each poll is one request against the hourly limit). */
  pollIntervalMs?: number
}

/** Where the work happens: ids resolved from the names an operator types. */
export interface RailwayTarget {
  projectId: string
  projectName: string
  environmentId: string
  environmentName: string
  /** Service name (as asked for) → id; an optional service that does not exist is absent. */
  services: Record<string, string>
}

export interface ServiceInstanceState {
  latestDeployment: DeploymentSummary | null
  activeDeployments: DeploymentSummary[]
}

const IN_PROGRESS: ReadonlySet<DeploymentStatus> = new Set([
  'INITIALIZING',
  'QUEUED',
  'WAITING',
  'BUILDING',
  'DEPLOYING',
  'NEEDS_APPROVAL',
])

export function isInProgress(status: DeploymentStatus): boolean {
  return IN_PROGRESS.has(status)
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export class RailwayClient {
  private readonly endpoint: string
  /** Also paces the callers' write-then-confirm (writeOnce), so tests that pass an instant clock wait for nothing. */
  readonly clock: Clock
  private readonly timeoutMs: number
  private readonly readAttempts: number
  private readonly pollIntervalMs: number

  constructor(private readonly options: RailwayClientOptions) {
    this.endpoint = options.endpoint ?? RAILWAY_ENDPOINT
    this.clock = options.clock ?? realClock
    this.timeoutMs = options.timeoutMs ?? 90_000
    this.readAttempts = options.readAttempts ?? 4
    this.pollIntervalMs = options.pollIntervalMs ?? 5000
  }

  /** Sends a read, retrying transient failures with backoff (Retry-After wins). */
  query<D, V>(operation: Operation<D, V>, variables: V): Promise<D> {
    return retryRead(() => this.send(operation, variables), {
      attempts: this.readAttempts,
      clock: this.clock,
      onRetry: (error, delayMs, attempt) =>
        this.options.logger.warning(
          `Railway ${operation.name} attempt ${attempt} failed (${error.message}); retrying in ${Math.ceil(delayMs / 1000)} s`,
        ),
    })
  }

  /** Sends a write exactly once. */
  mutate<D, V>(operation: Operation<D, V>, variables: V): Promise<D> {
    return this.send(operation, variables)
  }

  /** Turns project/environment/service names (or ids) into ids; fails with what exists when one is missing. */
  async resolveTarget(ref: {
    project?: string
    environment: string
    services: string[]
    /** Looked up too, but left out of `services` instead of failing when absent. */
    optionalServices?: string[]
  }): Promise<RailwayTarget> {
    const bound =
      this.options.tokenKind === 'project' ? (await this.query(projectTokenQuery, {})).projectToken : undefined
    const projectId = bound?.projectId ?? (await this.findProjectId(ref.project))
    const { project } = await this.query(projectTopologyQuery, { id: projectId })
    if (ref.project && bound && ref.project !== project.id && ref.project !== project.name) {
      throw new ConfigurationError(
        `the project token belongs to project "${project.name}", not "${ref.project}": use a token of that project or fix the project input`,
      )
    }
    const environments = project.environments.edges.map((e) => e.node)
    const environment = environments.find((e) => e.name === ref.environment || e.id === ref.environment)
    if (!environment) {
      const hint = bound ? ' (a project token only sees the environment it was created for)' : ''
      throw new ConfigurationError(
        `Railway project "${project.name}" has no environment "${ref.environment}"${hint}; available: ${names(environments)}`,
      )
    }
    const services = project.services.edges.map((e) => e.node)
    const resolved: Record<string, string> = {}
    for (const wanted of ref.services) {
      const service = services.find((s) => s.name === wanted || s.id === wanted)
      if (!service) {
        throw new ConfigurationError(
          `Railway project "${project.name}" has no service "${wanted}"; available: ${names(services)}`,
        )
      }
      resolved[wanted] = service.id
    }
    for (const wanted of ref.optionalServices ?? []) {
      const service = services.find((s) => s.name === wanted || s.id === wanted)
      if (service) resolved[wanted] = service.id
    }
    return {
      projectId: project.id,
      projectName: project.name,
      environmentId: environment.id,
      environmentName: environment.name,
      services: resolved,
    }
  }

  /** A service's variables as written, references such as `${{ollama.RAILWAY_PRIVATE_DOMAIN}}` unresolved. */
  async serviceVariables(target: RailwayTarget, serviceId: string): Promise<Record<string, string>> {
    const { variables } = await this.query(serviceVariablesQuery, {
      projectId: target.projectId,
      environmentId: target.environmentId,
      serviceId,
    })
    const values: Record<string, string> = {}
    for (const [name, value] of Object.entries(variables ?? {})) if (typeof value === 'string') values[name] = value
    return values
  }

  /** When a service variable last changed (ISO time), or undefined when it does not exist. */
  async variableUpdatedAt(environmentId: string, serviceId: string, name: string): Promise<string | undefined> {
    let after: string | null = null
    for (;;) {
      const stamps: Connection<VariableStamp> = (await this.query(variableTimestampsQuery, { environmentId, after }))
        .environment.variables
      const found = stamps.edges.find((e) => e.node.name === name && e.node.serviceId === serviceId)
      if (found) return found.node.updatedAt
      const page = stamps.pageInfo
      if (!page?.hasNextPage || !page.endCursor) return undefined
      after = page.endCursor
    }
  }

  /** One upsert without a deploy; the caller deploys on purpose and polls that deployment. */
  async upsertVariables(target: RailwayTarget, serviceId: string, variables: Record<string, string>): Promise<void> {
    await this.mutate(upsertVariablesMutation, {
      input: {
        projectId: target.projectId,
        environmentId: target.environmentId,
        serviceId,
        variables,
        skipDeploys: true,
      },
    })
  }

  /** Starts a deployment of the service's current source with its current variables; returns its id. */
  async deploy(environmentId: string, serviceId: string): Promise<string> {
    const { serviceInstanceDeployV2 } = await this.mutate(deployServiceMutation, { environmentId, serviceId })
    return serviceInstanceDeployV2
  }

  async serviceInstance(environmentId: string, serviceId: string): Promise<ServiceInstanceState> {
    const { serviceInstance } = await this.query(serviceInstanceQuery, { environmentId, serviceId })
    return { latestDeployment: serviceInstance.latestDeployment, activeDeployments: serviceInstance.activeDeployments }
  }

  async deployment(id: string): Promise<DeploymentSummary> {
    return (await this.query(deploymentQuery, { id })).deployment
  }

  /** Stops a running deployment (`railway down`); the service, its variables and volumes stay. */
  async removeDeployment(id: string): Promise<void> {
    await this.mutate(removeDeploymentMutation, { id })
  }

  /**
   * Polls a deployment until it leaves the in-progress states or the deadline passes, and
   * returns its final summary (SUCCESS or not: the caller decides what a failure means).
   */
  async waitForDeployment(id: string, timeoutMs: number): Promise<DeploymentSummary> {
    let last: DeploymentStatus | undefined
    return pollUntil(
      async () => {
        const deployment = await this.deployment(id)
        if (deployment.status !== last) this.options.logger.info(`deployment ${id}: ${deployment.status}`)
        last = deployment.status
        return isInProgress(deployment.status) ? undefined : deployment
      },
      { timeoutMs, intervalMs: this.pollIntervalMs, clock: this.clock, what: `Railway deployment ${id}` },
    )
  }

  private async findProjectId(project: string | undefined): Promise<string> {
    if (!project) {
      throw new ConfigurationError(
        `the project input is required with a ${this.options.tokenKind} token (a project token knows its own project)`,
      )
    }
    if (UUID.test(project)) return project
    const { projects } = await this.query(projectsQuery, {})
    const matches = projects.edges.map((e) => e.node).filter((p) => p.name === project)
    if (matches.length === 1 && matches[0]) return matches[0].id
    if (matches.length > 1) {
      throw new ConfigurationError(`${matches.length} Railway projects are named "${project}": pass the project id`)
    }
    throw new ConfigurationError(
      `the token sees no Railway project named "${project}"; it sees: ${names(projects.edges.map((e) => e.node))}`,
    )
  }

  private async send<D, V>(operation: Operation<D, V>, variables: V): Promise<D> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'zerollama-switch-railway',
    }
    if (this.options.tokenKind === 'project') headers['project-access-token'] = this.options.token
    else headers.authorization = `Bearer ${this.options.token}`
    const what = `Railway ${operation.name}`
    let status: number
    let text: string
    let limit: { retryAfter?: string; reset?: string } = {}
    try {
      // One deadline for connect, headers and body alike.
      const response = await request(this.endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query: operation.query, operationName: operation.name, variables }),
        signal: AbortSignal.timeout(this.timeoutMs),
      })
      status = response.statusCode
      limit = {
        retryAfter: header(response.headers, 'retry-after'),
        reset: header(response.headers, 'x-ratelimit-reset'),
      }
      text = await response.body.text()
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
      const reason = timedOut ? `no answer within ${Math.round(this.timeoutMs / 1000)} s` : networkReason(error)
      throw new ServiceError(what, reason, { retryable: true, nextStep: railwayStatusHint })
    }
    if (status === 429) {
      const waitMs = rateLimitWaitMs(limit, this.clock.now())
      throw new ServiceError(what, 'rate limited (HTTP 429)', {
        status,
        retryable: true,
        retryAfterMs: waitMs,
        nextStep: rateLimitHint(
          waitMs,
          'wait for the hourly limit to reset (Free 100, Hobby 1,000, Pro 10,000 requests/hour), then re-run',
        ),
      })
    }
    if (status >= 500) {
      throw new ServiceError(what, `HTTP ${status}`, { status, retryable: true, nextStep: railwayStatusHint })
    }
    if (status === 401 || status === 403)
      throw graphqlError(what, status, [`HTTP ${status}`, 'not authorized'], this.options.tokenKind)
    let body: { data?: D | null; errors?: { message?: string }[] }
    try {
      body = JSON.parse(text) as typeof body
    } catch {
      throw new ServiceError(what, `unreadable reply (HTTP ${status}, not JSON)`, {
        status,
        // A garbled 200 is a glitch worth another try; a 4xx page will read the same next time.
        retryable: status === 200,
        nextStep: railwayStatusHint,
      })
    }
    const messages = (body.errors ?? []).map((e) => e.message ?? 'unknown error')
    if (messages.length > 0) throw graphqlError(what, status, messages, this.options.tokenKind)
    if (status !== 200 || body.data === null || typeof body.data !== 'object') {
      throw new ServiceError(what, `reply without data (HTTP ${status})`, {
        status,
        retryable: status === 200,
        nextStep: railwayStatusHint,
      })
    }
    return body.data as D
  }
}

const railwayStatusHint = 'check https://status.railway.com, then re-run the job (it is idempotent)'

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

function names(items: { name: string }[]): string {
  return items.length > 0 ? items.map((i) => i.name).join(', ') : '(none)'
}

function networkReason(error: unknown): string {
  const code = (error as { code?: string } | null)?.code
  return code ? `network error ${code}` : 'network error'
}

function graphqlError(what: string, status: number, messages: string[], tokenKind: RailwayTokenKind): Error {
  const text = messages.join('; ')
  const lower = text.toLowerCase()
  if (lower.includes('not authorized') || lower.includes('project token not found')) {
    return new ConfigurationError(
      `${what}: Railway refused the token (${text}). Check that railway-token-kind "${tokenKind}" matches the token (project tokens use the Project-Access-Token header, workspace/account tokens Bearer) and that it can reach this project and environment`,
    )
  }
  if (lower.includes('not found')) {
    return new ConfigurationError(`${what}: ${text}; check the project, environment and service inputs`)
  }
  return new ServiceError(what, `Railway answered: ${text}`, {
    status,
    nextStep: 'read the message above; re-run once it is fixed (the job is idempotent)',
  })
}
