/**
 * A local stand-in for Railway's GraphQL API (backboard.railway.com/graphql/v2).
 *
 * Every request is parsed, validated and its variables coerced against the real schema
 * (shared/contracts/railway-schema.json) by graphql-js itself, so a document Railway would reject
 * is rejected here too — and `close()` then throws, failing the test that sent it. Valid requests
 * run against a small in-memory model: projects, variables per (service, environment) with their
 * update times, and deployments whose status moves on each time they are polled.
 * Faults (429 with Retry-After, 5xx, hangs, malformed replies, GraphQL errors) can be injected per
 * operation name and per call index, before or after the operation takes effect.
 */
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  buildClientSchema,
  type DocumentNode,
  execute,
  GraphQLError,
  type GraphQLFieldResolver,
  type GraphQLSchema,
  getOperationAST,
  type IntrospectionQuery,
  parse,
  validate,
} from 'graphql'
import type { RailwayTokenKind } from '../../src/railway/client.js'
import type { DeploymentStatus } from '../../src/railway/documents.js'
import { cognitiaSeed, type RailwayFakeSeed } from './railway-seed.js'

export { COGNITIA, cognitiaSeed, type RailwayFakeSeed } from './railway-seed.js'

// A copy of shared/contracts/railway-schema.json kept in the repo, so a fresh clone's tests have it.
const schemaPath = new URL('./railway-schema.json', import.meta.url)
let cachedSchema: GraphQLSchema | undefined

/** The pinned Railway schema, built once per process (the file is 1.8 MB). */
export function railwaySchema(): GraphQLSchema {
  if (!cachedSchema) {
    const json = JSON.parse(readFileSync(schemaPath, 'utf8')) as { data?: IntrospectionQuery } & IntrospectionQuery
    // Railway's own schema fails graphql 17's stricter schema checks (Team.id is deprecated, Node.id is not);
    // the schema is theirs, so trust it and still validate every document against it.
    cachedSchema = buildClientSchema(json.data ?? json, { assumeValid: true })
  }
  return cachedSchema
}

export type RailwayFault =
  | { kind: 'status'; status: number }
  | { kind: 'rate-limit'; retryAfterSeconds: number }
  | { kind: 'hang' }
  | { kind: 'malformed' }
  | { kind: 'graphql-error'; message: string }

export interface FaultRule {
  fault: RailwayFault
  /** Only requests with this operationName. */
  operation?: string
  /** Only from this call index on (0-based, counting every request the fake received). */
  atCall?: number
  /** How many requests it hits; Infinity models an outage. Default 1. */
  times?: number
  /** Let the operation take effect, then fail the reply (a write whose answer was lost). */
  afterApply?: boolean
}

/** How a new deployment of a service ends; `STUCK` never leaves BUILDING. */
export type DeployOutcome = 'SUCCESS' | 'FAILED' | 'CRASHED' | 'STUCK'

export interface FakeDeployment {
  id: string
  serviceId: string
  environmentId: string
  status: DeploymentStatus
  createdAt: string
  /** The variables the deployment started with (what the container sees). */
  variables: Record<string, string>
  outcome: DeployOutcome
}

export interface FakeCall {
  index: number
  operation: string
  variables: Record<string, unknown>
  /** What the client got: 'ok', 'graphql-error', 'invalid', or the injected fault's kind. */
  result: string
}

const progress: Record<DeployOutcome, DeploymentStatus[]> = {
  SUCCESS: ['BUILDING', 'DEPLOYING', 'SUCCESS'],
  FAILED: ['BUILDING', 'FAILED'],
  CRASHED: ['BUILDING', 'DEPLOYING', 'CRASHED'],
  STUCK: ['BUILDING'],
}

export class RailwayFakeState {
  readonly calls: FakeCall[] = []
  readonly invalidDocuments: string[] = []
  readonly deployments: FakeDeployment[] = []
  readonly faults: FaultRule[] = []
  /** Outcome of the next deployments per service id (default SUCCESS). */
  readonly outcomes = new Map<string, DeployOutcome>()
  private readonly variables = new Map<string, Map<string, { value: string; updatedAt: string }>>()
  private tick = 0
  private deploymentCounter = 0

  constructor(readonly seed: RailwayFakeSeed) {
    for (const { serviceId, environmentId, values } of seed.variables) {
      for (const [name, value] of Object.entries(values)) this.setVariable(serviceId, environmentId, name, value)
    }
    for (const { serviceId, environmentId } of seed.running) {
      const deployment = this.createDeployment(serviceId, environmentId)
      deployment.status = 'SUCCESS'
    }
  }

  /** A logical clock: every change is one second after the previous one, so ordering never ties. */
  now(): string {
    this.tick += 1
    return new Date(Date.UTC(2026, 10, 25, 12, 0, this.tick)).toISOString()
  }

  serviceId(name: string): string {
    for (const project of this.seed.projects) {
      const service = project.services.find((s) => s.name === name || s.id === name)
      if (service) return service.id
    }
    throw new Error(`fake has no service ${name}`)
  }

  environmentId(name = 'production'): string {
    for (const project of this.seed.projects) {
      const environment = project.environments.find((e) => e.name === name || e.id === name)
      if (environment) return environment.id
    }
    throw new Error(`fake has no environment ${name}`)
  }

  /** The stored (unrendered) variables of a service; `service` is a name or id. */
  variablesOf(service: string, environment = 'production'): Record<string, string> {
    const stored = this.variables.get(this.key(this.serviceId(service), this.environmentId(environment)))
    return Object.fromEntries([...(stored ?? new Map()).entries()].map(([name, { value }]) => [name, value]))
  }

  variable(service: string, name: string, environment = 'production'): string | undefined {
    return this.variablesOf(service, environment)[name]
  }

  deploymentsOf(service: string, environment = 'production'): FakeDeployment[] {
    const serviceId = this.serviceId(service)
    const environmentId = this.environmentId(environment)
    return this.deployments.filter((d) => d.serviceId === serviceId && d.environmentId === environmentId)
  }

  /** A service is running when one of its deployments is SUCCESS. */
  isRunning(service: string, environment = 'production'): boolean {
    return this.deploymentsOf(service, environment).some((d) => d.status === 'SUCCESS')
  }

  setOutcome(service: string, outcome: DeployOutcome): void {
    this.outcomes.set(this.serviceId(service), outcome)
  }

  /** Stops a service the way `railway down` would, to set up a scenario. */
  stop(service: string, environment = 'production'): void {
    for (const deployment of this.deploymentsOf(service, environment)) {
      if (deployment.status === 'SUCCESS') deployment.status = 'REMOVED'
    }
  }

  setVariable(serviceId: string, environmentId: string, name: string, value: string): void {
    const key = this.key(serviceId, environmentId)
    const stored = this.variables.get(key) ?? new Map()
    stored.set(name, { value, updatedAt: this.now() })
    this.variables.set(key, stored)
  }

  storedVariables(serviceId: string, environmentId: string) {
    return (
      this.variables.get(this.key(serviceId, environmentId)) ?? new Map<string, { value: string; updatedAt: string }>()
    )
  }

  /** A new deployment supersedes any still in progress for the same service (Railway marks them REMOVED). */
  createDeployment(serviceId: string, environmentId: string): FakeDeployment {
    for (const other of this.deployments) {
      const inProgress = other.status === 'BUILDING' || other.status === 'DEPLOYING'
      if (inProgress && other.serviceId === serviceId && other.environmentId === environmentId) other.status = 'REMOVED'
    }
    this.deploymentCounter += 1
    const deployment: FakeDeployment = {
      id: `deploy-${String(this.deploymentCounter).padStart(4, '0')}-${serviceId.slice(0, 8)}`,
      serviceId,
      environmentId,
      status: 'BUILDING',
      createdAt: this.now(),
      variables: Object.fromEntries(
        [...this.storedVariables(serviceId, environmentId).entries()].map(([k, v]) => [k, v.value]),
      ),
      outcome: this.outcomes.get(serviceId) ?? 'SUCCESS',
    }
    this.deployments.push(deployment)
    return deployment
  }

  /** One poll moves a deployment one step along its outcome's path; reaching SUCCESS retires the old one. */
  advance(deployment: FakeDeployment): void {
    const path = progress[deployment.outcome]
    const at = path.indexOf(deployment.status)
    if (at === -1 || at === path.length - 1) return
    deployment.status = path[at + 1] as DeploymentStatus
    if (deployment.status === 'SUCCESS') {
      for (const other of this.deployments) {
        if (
          other !== deployment &&
          other.serviceId === deployment.serviceId &&
          other.environmentId === deployment.environmentId &&
          other.status === 'SUCCESS'
        ) {
          other.status = 'REMOVED'
        }
      }
    }
  }

  private key(serviceId: string, environmentId: string): string {
    return `${serviceId}/${environmentId}`
  }
}

export interface RailwayFake {
  /** The GraphQL endpoint, for RAILWAY_API_URL or the client's `endpoint`. */
  url: string
  state: RailwayFakeState
  inject(rule: FaultRule): void
  failNext(fault: RailwayFault, operation?: string): void
  clearFaults(): void
  /** Stops the server; throws when any request carried a document the real schema rejects. */
  close(): Promise<void>
}

interface Caller {
  kind: RailwayTokenKind
  projectId?: string
  environmentId?: string
}

export async function startRailwayFake(seed: RailwayFakeSeed = cognitiaSeed()): Promise<RailwayFake> {
  const state = new RailwayFakeState(seed)
  // Built before listening: building it inside the first request would stall that answer past short client timeouts.
  railwaySchema()
  const hanging = new Set<ServerResponse>()

  const server = createServer((req, res) => {
    readBody(req)
      .then((body) => answer(state, req, body, res, hanging))
      .catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' })
        res.end(String(error))
      })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}/graphql/v2`,
    state,
    inject: (rule) => state.faults.push({ times: 1, ...rule }),
    failNext: (fault, operation) => state.faults.push({ fault, operation, times: 1 }),
    clearFaults: () => {
      state.faults.length = 0
    },
    close: async () => {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      if (state.invalidDocuments.length > 0) {
        throw new Error(`Railway fake received documents the schema rejects:\n${state.invalidDocuments.join('\n')}`)
      }
    },
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      body += chunk
    })
    req.on('end', () => resolve(body))
    req.on('error', reject)
  })
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

async function answer(
  state: RailwayFakeState,
  req: IncomingMessage,
  rawBody: string,
  res: ServerResponse,
  hanging: Set<ServerResponse>,
): Promise<void> {
  const index = state.calls.length
  const request = parseRequest(rawBody)
  const call: FakeCall = {
    index,
    operation: request.operationName ?? '(anonymous)',
    variables: request.variables ?? {},
    result: 'ok',
  }
  state.calls.push(call)

  if (req.method !== 'POST' || !request.query) {
    call.result = 'invalid'
    state.invalidDocuments.push(`#${index}: not a GraphQL POST (${req.method})`)
    sendJson(res, 400, { errors: [{ message: 'POST body must be a GraphQL request' }] })
    return
  }
  const schema = railwaySchema()
  let checked: CheckedDocument
  try {
    checked = checkDocument(schema, request.query)
  } catch (error) {
    reject(state, call, res, [String(error)])
    return
  }
  const { document } = checked
  const problems = [...checked.problems]
  const operation = getOperationAST(document, request.operationName)
  if (!operation?.name) problems.push('operations must be named (operationName)')
  else call.operation = operation.name.value
  if (problems.length > 0) {
    reject(state, call, res, problems)
    return
  }

  const rule = takeFault(state, call)
  if (rule && !rule.afterApply) {
    sendFault(rule.fault, call, res, hanging)
    return
  }

  const caller = authenticate(state, req)
  const result = await execute({
    schema,
    document,
    operationName: request.operationName,
    variableValues: request.variables,
    fieldResolver: resolver(state, caller),
  })
  if (!('data' in result)) {
    // Variables that do not match their declared types: graphql-js stops before running anything.
    reject(
      state,
      call,
      res,
      (result.errors ?? []).map((e) => e.message),
    )
    return
  }
  if (rule) sendFault(rule.fault, call, res, hanging)
  else {
    if (result.errors?.length) call.result = 'graphql-error'
    sendJson(res, 200, result)
  }
}

interface CheckedDocument {
  document: DocumentNode
  problems: string[]
}
const checkedDocuments = new Map<string, CheckedDocument>()

/** Parses and validates a document once per distinct text: the pipeline sends the same few many times. */
function checkDocument(schema: GraphQLSchema, query: string): CheckedDocument {
  let checked = checkedDocuments.get(query)
  if (!checked) {
    const document = parse(query)
    checked = { document, problems: validate(schema, document).map((e) => e.message) }
    checkedDocuments.set(query, checked)
  }
  return checked
}

function parseRequest(raw: string): { query?: string; operationName?: string; variables?: Record<string, unknown> } {
  try {
    return JSON.parse(raw) as { query?: string; operationName?: string; variables?: Record<string, unknown> }
  } catch {
    return {}
  }
}

function reject(state: RailwayFakeState, call: FakeCall, res: ServerResponse, messages: string[]): void {
  call.result = 'invalid'
  state.invalidDocuments.push(`#${call.index} ${call.operation}: ${messages.join('; ')}`)
  sendJson(res, 400, { errors: messages.map((message) => ({ message })) })
}

function takeFault(state: RailwayFakeState, call: FakeCall): FaultRule | undefined {
  const rule = state.faults.find(
    (r) =>
      (r.times ?? 1) > 0 &&
      (r.operation === undefined || r.operation === call.operation) &&
      (r.atCall === undefined || call.index >= r.atCall),
  )
  if (rule) rule.times = (rule.times ?? 1) - 1
  return rule
}

function sendFault(fault: RailwayFault, call: FakeCall, res: ServerResponse, hanging: Set<ServerResponse>): void {
  call.result = fault.kind
  switch (fault.kind) {
    case 'status':
      res.writeHead(fault.status, { 'content-type': 'text/html' })
      res.end(`<html><body><h1>${fault.status}</h1>upstream error</body></html>`)
      return
    case 'rate-limit':
      // Backboard sets Retry-After (seconds) on every 429; the X-RateLimit-* headers come with it.
      sendJson(
        res,
        429,
        { errors: [{ message: 'Rate limit exceeded' }] },
        {
          'retry-after': String(fault.retryAfterSeconds),
          'x-ratelimit-limit': '1000',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(fault.retryAfterSeconds),
        },
      )
      return
    case 'hang':
      hanging.add(res)
      res.on('close', () => hanging.delete(res))
      return
    case 'malformed':
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"data": {"unexpected": tru')
      return
    case 'graphql-error':
      sendJson(res, 200, { data: null, errors: [{ message: fault.message }] })
  }
}

function authenticate(state: RailwayFakeState, req: IncomingMessage): Caller | undefined {
  const projectHeader = req.headers['project-access-token']
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
  const token = state.seed.tokens.find((t) =>
    t.kind === 'project' ? t.value === projectHeader : bearer !== undefined && t.value === bearer,
  )
  return token && { kind: token.kind, projectId: token.projectId, environmentId: token.environmentId }
}

type Args = Record<string, unknown>
type RootField = (args: Args, caller: Caller) => unknown

function connection<T>(nodes: T[]) {
  return {
    edges: nodes.map((node, i) => ({ node, cursor: String(i) })),
    pageInfo: { hasNextPage: false, endCursor: nodes.length > 0 ? String(nodes.length - 1) : null },
  }
}

function resolver(state: RailwayFakeState, caller: Caller | undefined): GraphQLFieldResolver<unknown, unknown> {
  const roots = rootFields(state)
  return (source, args, _context, info) => {
    const isRoot = info.parentType.name === 'Query' || info.parentType.name === 'Mutation'
    if (!isRoot) return (source as Record<string, unknown> | null)?.[info.fieldName]
    if (!caller) throw new GraphQLError('Not Authorized')
    const field = roots[info.fieldName]
    if (!field) throw new GraphQLError(`the Railway fake does not implement ${info.fieldName}`)
    return field(args as Args, caller)
  }
}

function rootFields(state: RailwayFakeState): Record<string, RootField> {
  const project = (id: string, caller: Caller) => {
    const found = state.seed.projects.find((p) => p.id === id)
    if (!found || (caller.kind === 'project' && caller.projectId !== id)) throw new GraphQLError('Project not found')
    return found
  }
  const environmentOf = (id: string, caller: Caller) => {
    if (caller.kind === 'project' && caller.environmentId !== id) throw new GraphQLError('Not Authorized')
    for (const p of state.seed.projects) {
      const environment = p.environments.find((e) => e.id === id)
      if (environment) return { project: p, environment }
    }
    throw new GraphQLError('Environment not found')
  }
  const deploymentView = (d: FakeDeployment) => ({
    id: d.id,
    status: d.status,
    createdAt: d.createdAt,
    serviceId: d.serviceId,
  })
  const serviceIn = (environmentId: string, serviceId: string, caller: Caller) => {
    const { project: p } = environmentOf(environmentId, caller)
    const service = p.services.find((s) => s.id === serviceId)
    if (!service) throw new GraphQLError('Service not found')
    return { project: p, service }
  }

  return {
    projectToken: (_args, caller) => {
      if (caller.kind !== 'project') throw new GraphQLError('Not Authorized')
      return { projectId: caller.projectId, environmentId: caller.environmentId }
    },
    projects: (_args, caller) => {
      if (caller.kind === 'project') throw new GraphQLError('Not Authorized')
      return connection(state.seed.projects.map((p) => ({ id: p.id, name: p.name })))
    },
    project: (args, caller) => {
      const p = project(String(args.id), caller)
      const environments =
        caller.kind === 'project' ? p.environments.filter((e) => e.id === caller.environmentId) : p.environments
      return { id: p.id, name: p.name, environments: connection(environments), services: connection(p.services) }
    },
    environment: (args, caller) => {
      const environmentId = String(args.id)
      const { project: p } = environmentOf(environmentId, caller)
      const variables = p.services.flatMap((s) =>
        [...state.storedVariables(s.id, environmentId).entries()].map(([name, { updatedAt }]) => ({
          name,
          serviceId: s.id,
          updatedAt,
        })),
      )
      return { variables: connection(variables) }
    },
    variables: (args, caller) => {
      const environmentId = String(args.environmentId)
      if (!args.serviceId) return {}
      const { project: p } = serviceIn(environmentId, String(args.serviceId), caller)
      if (p.id !== args.projectId) throw new GraphQLError('Project not found')
      return state.variablesOf(String(args.serviceId), environmentId)
    },
    serviceInstance: (args, caller) => {
      const environmentId = String(args.environmentId)
      const { service } = serviceIn(environmentId, String(args.serviceId), caller)
      const deployments = state.deployments.filter(
        (d) => d.serviceId === service.id && d.environmentId === environmentId,
      )
      const latest = deployments.at(-1)
      return {
        id: `${service.id}-${environmentId}`,
        serviceName: service.name,
        latestDeployment: latest ? deploymentView(latest) : null,
        activeDeployments: deployments.filter((d) => d.status === 'SUCCESS').map(deploymentView),
      }
    },
    deployment: (args, caller) => {
      const deployment = state.deployments.find((d) => d.id === args.id)
      if (!deployment) throw new GraphQLError('Deployment not found')
      environmentOf(deployment.environmentId, caller)
      const view = deploymentView(deployment)
      state.advance(deployment)
      return view
    },
    variableCollectionUpsert: (args, caller) => {
      const input = args.input as {
        projectId: string
        environmentId: string
        serviceId?: string
        variables: Record<string, string>
        replace?: boolean
        skipDeploys?: boolean
      }
      if (!input.serviceId) throw new GraphQLError('the Railway fake only models service variables')
      const { project: p } = serviceIn(input.environmentId, input.serviceId, caller)
      if (p.id !== input.projectId) throw new GraphQLError('Project not found')
      if (input.replace) throw new GraphQLError('the Railway fake refuses replace: true (it deletes other variables)')
      for (const [name, value] of Object.entries(input.variables)) {
        if (typeof value !== 'string') throw new GraphQLError(`variable ${name} must be a string`)
        state.setVariable(input.serviceId, input.environmentId, name, value)
      }
      if (!input.skipDeploys) state.createDeployment(input.serviceId, input.environmentId)
      return true
    },
    serviceInstanceDeployV2: (args, caller) => {
      const { service } = serviceIn(String(args.environmentId), String(args.serviceId), caller)
      return state.createDeployment(service.id, String(args.environmentId)).id
    },
    deploymentRemove: (args, caller) => {
      const deployment = state.deployments.find((d) => d.id === args.id)
      if (!deployment) throw new GraphQLError('Deployment not found')
      environmentOf(deployment.environmentId, caller)
      deployment.status = 'REMOVED'
      return true
    },
  }
}
