/**
 * A local stand-in for the Hugging Face Inference Endpoints API (api.endpoints.huggingface.cloud/v2):
 * list, create, read, update, resume and logs of endpoints, answering with the documents the real API
 * returns (huggingface_hub's InferenceEndpoint reads name, type, compute, model, provider, status).
 * It holds every request to the contract (a create or update the real API would refuse is refused here),
 * moves an endpoint one state per read (pending → initializing → running, or → failed), and can refuse
 * like the real service: a bad token, a namespace the token cannot manage, no payment method, a GPU
 * quota, no capacity in a region, and injected failures (status codes, Retry-After, lost replies).
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface FakeEndpointsUser {
  token: string
  name: string
  orgs?: string[]
  /** False: 402 on create (no payment method). */
  canPay?: boolean
  /** Accelerators of an instance type the namespace may run at once (max replicas × GPUs); absent: no limit. */
  gpuQuota?: Record<string, number>
}

/** How the next start of an endpoint ends. */
export interface EndpointOutcome {
  state: 'running' | 'failed'
  message?: string
  /** The container log served by /logs. */
  logs?: string[]
}

export interface FakeEndpoint {
  id: string
  namespace: string
  doc: Record<string, unknown> & {
    status: { state: string; message?: string; url?: string; createdAt: string; updatedAt: string }
  }
  /** States still to come; each read moves one step. */
  pendingStates: string[]
  outcome: EndpointOutcome
  updates: number
  resumes: number
}

export interface EndpointsFailureRule {
  method?: string
  path: RegExp | string
  status?: number
  message?: string
  retryAfter?: string
  /** Apply the request first, then answer with the failure: a lost reply. */
  afterApply?: boolean
  times?: number
}

export interface EndpointsFake {
  url: string
  state: { endpoints: Map<string, FakeEndpoint>; requests: Array<{ method: string; path: string; status: number }> }
  fail(rule: EndpointsFailureRule): void
  /** How the next starts of an endpoint end (default running); may be set before it exists. */
  setOutcome(id: string, outcome: EndpointOutcome): void
  /** Puts an endpoint straight into a state (paused, scaledToZero, failed). */
  setState(id: string, state: string): void
  close(): Promise<void>
}

export interface EndpointsFakeOptions {
  users?: FakeEndpointsUser[]
  /** Reads spent in `initializing` per start (default 1). */
  initializingPolls?: number
  /** Instances with no free machine, as "vendor/region/instanceType": endpoints stay pending, then fail. */
  noCapacity?: string[]
  /** The URL a running endpoint reports (tests point it at a local Ollama stand-in). */
  urlFor?: (id: string) => string
}

export const fakeEndpointsToken = 'hf_fakeEndpointsTokenAlice0123456789'
export const defaultEndpointsUser: FakeEndpointsUser = { token: fakeEndpointsToken, name: 'alice', orgs: ['cognitia'] }

/** vendor → regions, and the instance types and sizes each vendor offers (the real catalog's shape). */
const regions: Record<string, string[]> = {
  aws: ['us-east-1', 'eu-west-1'],
  gcp: ['us-east4', 'europe-west1'],
}
const instances: Record<string, Record<string, { sizes: string[]; gpus: Record<string, number> }>> = {
  aws: {
    'nvidia-t4': { sizes: ['x1', 'x4'], gpus: { x1: 1, x4: 4 } },
    'nvidia-l4': { sizes: ['x1', 'x4'], gpus: { x1: 1, x4: 4 } },
    'nvidia-a10g': { sizes: ['x1', 'x4'], gpus: { x1: 1, x4: 4 } },
    'nvidia-l40s': { sizes: ['x1', 'x4', 'x8'], gpus: { x1: 1, x4: 4, x8: 8 } },
    'nvidia-a100': { sizes: ['x1', 'x2', 'x4', 'x8'], gpus: { x1: 1, x2: 2, x4: 4, x8: 8 } },
    'nvidia-h200': { sizes: ['x1', 'x2', 'x4', 'x8'], gpus: { x1: 1, x2: 2, x4: 4, x8: 8 } },
  },
  gcp: {
    'nvidia-t4': { sizes: ['x1'], gpus: { x1: 1 } },
    'nvidia-l4': { sizes: ['x1', 'x4'], gpus: { x1: 1, x4: 4 } },
  },
}
const types = new Set(['public', 'protected', 'authenticated', 'private'])

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

interface Reply {
  status: number
  body?: unknown
  text?: string
  headers?: Record<string, string>
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function need(condition: unknown, message: string): asserts condition {
  if (!condition) throw new HttpError(422, message)
}

export async function startEndpointsFake(options: EndpointsFakeOptions = {}): Promise<EndpointsFake> {
  const users = options.users ?? [defaultEndpointsUser]
  const initializingPolls = options.initializingPolls ?? 1
  const state: EndpointsFake['state'] = { endpoints: new Map(), requests: [] }
  const failures: Array<EndpointsFailureRule & { left: number }> = []
  const presetOutcomes = new Map<string, EndpointOutcome>()
  let baseUrl = ''
  const now = () => new Date().toISOString()

  function userFor(req: IncomingMessage): FakeEndpointsUser {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    const user = users.find((u) => u.token === token)
    if (!user) throw new HttpError(401, 'Invalid credentials in Authorization header')
    return user
  }

  function checkNamespace(user: FakeEndpointsUser, namespace: string) {
    if (user.name !== namespace && !user.orgs?.includes(namespace)) {
      throw new HttpError(403, `You are not allowed to manage endpoints of ${namespace}`)
    }
  }

  function checkCompute(compute: unknown, vendor: string, user: FakeEndpointsUser, namespace: string) {
    need(isObject(compute), 'compute must be an object')
    const { accelerator, instanceType, instanceSize, scaling } = compute
    need(accelerator === 'gpu' || accelerator === 'cpu', `compute.accelerator must be cpu or gpu, got ${accelerator}`)
    need(typeof instanceType === 'string' && typeof instanceSize === 'string', 'compute.instanceType/Size required')
    const offer = instances[vendor]?.[instanceType]
    if (!offer?.sizes.includes(instanceSize)) {
      throw new HttpError(400, `Instance ${instanceType} ${instanceSize} is not available on ${vendor}`)
    }
    need(accelerator === 'gpu', `${instanceType} is a GPU instance: accelerator must be gpu`)
    need(isObject(scaling), 'compute.scaling must be an object')
    const { minReplica, maxReplica, scaleToZeroTimeout } = scaling
    need(Number.isInteger(minReplica) && (minReplica as number) >= 0, 'compute.scaling.minReplica must be ≥ 0')
    need(
      Number.isInteger(maxReplica) && (maxReplica as number) >= Math.max(1, minReplica as number),
      'compute.scaling.maxReplica must be ≥ 1 and ≥ minReplica',
    )
    need(
      scaleToZeroTimeout === null ||
        scaleToZeroTimeout === undefined ||
        (Number.isInteger(scaleToZeroTimeout) && (scaleToZeroTimeout as number) > 0),
      'compute.scaling.scaleToZeroTimeout must be a positive number of minutes or null',
    )
    if (minReplica === 0) need(typeof scaleToZeroTimeout === 'number', 'minReplica 0 needs a scaleToZeroTimeout')
    const quota = user.gpuQuota?.[instanceType]
    const wanted = (offer.gpus[instanceSize] ?? 1) * (maxReplica as number)
    if (quota !== undefined && wanted > quota) {
      throw new HttpError(
        400,
        `Quota exceeded for ${instanceType} in ${namespace}: ${wanted} accelerators requested, ${quota} allowed`,
      )
    }
  }

  function checkModel(model: unknown) {
    need(isObject(model), 'model must be an object')
    need(typeof model.repository === 'string' && model.repository, 'model.repository is required')
    need(typeof model.framework === 'string', 'model.framework is required')
    need(model.task === undefined || typeof model.task === 'string', 'model.task must be a string (it is not nullable)')
    need(isObject(model.image) && Object.keys(model.image).length === 1, 'model.image must have exactly one variant')
    const custom = model.image.custom
    need(isObject(custom), 'this fake knows the custom image variant only')
    need(typeof custom.url === 'string' && custom.url, 'model.image.custom.url is required')
    need(custom.port === undefined || Number.isInteger(custom.port), 'model.image.custom.port must be an integer')
    need(
      custom.healthRoute === undefined ||
        (typeof custom.healthRoute === 'string' && custom.healthRoute.startsWith('/')),
      'model.image.custom.healthRoute must start with /',
    )
    need(
      model.command === undefined ||
        (Array.isArray(model.command) && model.command.every((c) => typeof c === 'string')),
      'model.command must be a list of strings',
    )
    need(
      model.env === undefined || (isObject(model.env) && Object.values(model.env).every((v) => typeof v === 'string')),
      'model.env must map names to strings',
    )
  }

  function capacityProblem(doc: FakeEndpoint['doc']): string | undefined {
    const provider = doc.provider as { vendor: string; region: string }
    const compute = doc.compute as { instanceType: string }
    const key = `${provider.vendor}/${provider.region}/${compute.instanceType}`
    return options.noCapacity?.includes(key)
      ? `Insufficient capacity for ${compute.instanceType} in ${provider.region}`
      : undefined
  }

  /** Queues a start: pending, initializing, then the outcome (or pending until failing, without capacity). */
  function start(endpoint: FakeEndpoint, first: string) {
    const noCapacity = capacityProblem(endpoint.doc)
    const status = endpoint.doc.status
    status.updatedAt = now()
    if (noCapacity) {
      status.state = first
      status.message = `Endpoint waiting to be scheduled: ${noCapacity}`
      endpoint.pendingStates = ['pending', `failed|${noCapacity}`]
      return
    }
    const outcome = endpoint.outcome
    status.state = first
    status.message = first === 'updating' ? 'Endpoint is updating' : 'Endpoint waiting to be scheduled'
    delete status.url
    endpoint.pendingStates = [
      ...Array.from({ length: initializingPolls }, () => 'initializing'),
      outcome.state === 'running'
        ? 'running'
        : `${first === 'updating' ? 'updateFailed' : 'failed'}|${outcome.message ?? 'Endpoint failed to start'}`,
    ]
  }

  function advance(endpoint: FakeEndpoint) {
    const next = endpoint.pendingStates.shift()
    if (!next) return
    const [stateName = '', message] = next.split('|')
    const status = endpoint.doc.status
    status.state = stateName
    status.updatedAt = now()
    if (stateName === 'running') {
      status.message = 'Endpoint is ready'
      status.url =
        options.urlFor?.(endpoint.id) ??
        `https://${randomBytes(8).toString('hex')}.${(endpoint.doc.provider as { region: string }).region}.aws.endpoints.huggingface.cloud`
    } else if (message) {
      status.message = message
    } else if (stateName === 'initializing') {
      status.message = 'Endpoint is initializing'
    }
  }

  function create(user: FakeEndpointsUser, namespace: string, payload: Record<string, unknown>): Reply {
    checkNamespace(user, namespace)
    const name = payload.name
    need(
      typeof name === 'string' && /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/.test(name),
      `invalid endpoint name ${name}`,
    )
    need(typeof payload.type === 'string' && types.has(payload.type), `type must be one of ${[...types].join(', ')}`)
    const provider = payload.provider
    need(isObject(provider) && typeof provider.vendor === 'string', 'provider.vendor is required')
    need(
      regions[provider.vendor]?.includes(String(provider.region)),
      `region ${provider.region} is not offered by ${provider.vendor}`,
    )
    checkCompute(payload.compute, provider.vendor, user, namespace)
    checkModel(payload.model)
    const id = `${namespace}/${name}`
    if (state.endpoints.has(id)) throw new HttpError(409, `Endpoint ${name} already exists`)
    if (user.canPay === false) throw new HttpError(402, 'A payment method is required to create an Inference Endpoint')
    const endpoint: FakeEndpoint = {
      id,
      namespace,
      doc: {
        name,
        type: payload.type,
        accountId: null,
        provider: { vendor: provider.vendor, region: provider.region },
        compute: structuredClone(payload.compute) as Record<string, unknown>,
        model: { revision: null, ...(structuredClone(payload.model) as Record<string, unknown>) },
        healthRoute:
          (payload.model as { image: { custom: { healthRoute?: string } } }).image.custom.healthRoute ?? '/health',
        status: { state: 'pending', createdAt: now(), updatedAt: now() },
      },
      pendingStates: [],
      outcome: presetOutcomes.get(id) ?? { state: 'running' },
      updates: 0,
      resumes: 0,
    }
    state.endpoints.set(id, endpoint)
    start(endpoint, 'pending')
    return { status: 200, body: endpoint.doc }
  }

  function update(user: FakeEndpointsUser, endpoint: FakeEndpoint, payload: Record<string, unknown>): Reply {
    const doc = endpoint.doc
    need(payload.type === undefined, 'this fake, like the client, does not change type in an update')
    const compute =
      payload.compute === undefined ? doc.compute : { ...(doc.compute as object), ...(payload.compute as object) }
    checkCompute(compute, (doc.provider as { vendor: string }).vendor, user, endpoint.namespace)
    if (payload.model !== undefined) checkModel(payload.model)
    doc.compute = structuredClone(compute) as Record<string, unknown>
    if (payload.model !== undefined)
      doc.model = { revision: null, ...(structuredClone(payload.model) as Record<string, unknown>) }
    endpoint.updates++
    start(endpoint, 'updating')
    return { status: 200, body: doc }
  }

  function route(req: IncomingMessage, url: URL, body: Buffer): Reply {
    const method = req.method ?? 'GET'
    const user = userFor(req)
    const json = () => {
      try {
        const parsed = JSON.parse(body.toString() || '{}') as unknown
        need(isObject(parsed), 'body must be a JSON object')
        return parsed
      } catch (error) {
        if (error instanceof HttpError) throw error
        throw new HttpError(400, 'body is not JSON')
      }
    }
    const match = /^\/v2\/endpoint\/([^/]+)(?:\/([^/]+)(?:\/([^/]+))?)?$/.exec(url.pathname)
    if (!match) throw new HttpError(404, `no route ${method} ${url.pathname}`)
    const [, namespace = '', name, action] = match
    checkNamespace(user, namespace)
    if (!name) {
      if (method === 'GET') {
        const items = [...state.endpoints.values()].filter((e) => e.namespace === namespace).map((e) => e.doc)
        return { status: 200, body: { items } }
      }
      if (method === 'POST') return create(user, namespace, json())
      throw new HttpError(405, `${method} not allowed`)
    }
    const endpoint = state.endpoints.get(`${namespace}/${name}`)
    if (!endpoint) throw new HttpError(404, `Endpoint ${name} not found`)
    if (!action) {
      if (method === 'GET') {
        const doc = structuredClone(endpoint.doc)
        advance(endpoint)
        return { status: 200, body: doc }
      }
      if (method === 'PUT') return update(user, endpoint, json())
      if (method === 'DELETE') {
        state.endpoints.delete(endpoint.id)
        return { status: 200, body: {} }
      }
    }
    if (action === 'resume' && method === 'POST') {
      endpoint.resumes++
      if (endpoint.doc.status.state === 'paused') start(endpoint, 'pending')
      return { status: 200, body: endpoint.doc }
    }
    if (action === 'logs' && method === 'GET') {
      return { status: 200, text: (endpoint.outcome.logs ?? []).map((line) => `${line}\n`).join('') }
    }
    throw new HttpError(404, `no route ${method} ${url.pathname}`)
  }

  function send(res: ServerResponse, reply: Reply) {
    const isJson = reply.text === undefined
    res.writeHead(reply.status, { 'Content-Type': isJson ? 'application/json' : 'text/plain', ...reply.headers })
    res.end(isJson ? JSON.stringify(reply.body ?? {}) : reply.text)
  }

  function handle(req: IncomingMessage, url: URL, body: Buffer): Reply {
    try {
      return route(req, url, body)
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500
      return { status, body: { error: error instanceof Error ? error.message : String(error) } }
    }
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', baseUrl)
      const method = req.method ?? 'GET'
      const record = { method, path: url.pathname, status: 0 }
      state.requests.push(record)
      const rule = failures.find(
        (f) =>
          f.left > 0 &&
          (!f.method || f.method === method) &&
          (typeof f.path === 'string' ? url.pathname.includes(f.path) : f.path.test(url.pathname)),
      )
      if (rule) rule.left--
      const injected = (r: EndpointsFailureRule): Reply => ({
        status: r.status ?? 500,
        headers: r.retryAfter ? { 'Retry-After': r.retryAfter } : {},
        body: { error: r.message ?? `injected failure ${r.status ?? 500}` },
      })
      let reply = rule && !rule.afterApply ? injected(rule) : handle(req, url, Buffer.concat(chunks))
      if (rule?.afterApply) reply = injected(rule)
      record.status = reply.status
      send(res, reply)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url: `${baseUrl}/v2`,
    state,
    fail: (rule) => failures.push({ ...rule, left: rule.times ?? 1 }),
    setOutcome: (id, outcome) => {
      presetOutcomes.set(id, outcome)
      const endpoint = state.endpoints.get(id)
      if (endpoint) endpoint.outcome = outcome
    },
    setState: (id, stateName) => {
      const endpoint = state.endpoints.get(id)
      if (!endpoint) throw new Error(`no endpoint ${id} in the fake`)
      endpoint.doc.status.state = stateName
      endpoint.pendingStates = []
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}
