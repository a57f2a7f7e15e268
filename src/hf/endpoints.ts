/**
 * Hugging Face Inference Endpoints: dedicated GPUs with replicas, autoscaling and scale-to-zero, running
 * the real Ollama container. The Endpoints API (api.endpoints.huggingface.cloud/v2) is not covered by
 * @huggingface/hub, so it is called here with undici; the payload is the one huggingface_hub's
 * `create_inference_endpoint` / `update_inference_endpoint` send. Reads retry with backoff; writes are
 * sent once and, when their reply is lost, settled by reading the endpoint back.
 */
import { request } from 'undici'
import { ConfigurationError, ServiceError } from '../errors.js'
import type { Logger } from '../logger.js'
import { type Clock, pollUntil, rateLimitHint, rateLimitWaitMs, realClock, retryRead, writeOnce } from '../retry.js'

export const ENDPOINTS_API_URL = 'https://api.endpoints.huggingface.cloud/v2'
export const endpointsService = 'Inference Endpoints'
/** Ollama's own port; the container listens there (OLLAMA_HOST) and the endpoint routes to it. */
export const OLLAMA_PORT = 11434
/** Answers 200 as soon as `ollama serve` is up (the models download after that). */
export const OLLAMA_HEALTH_ROUTE = '/api/version'

/** `authenticated` (HF's current name for "protected"): every request needs an HF token that can read it. */
export const ENDPOINT_ACCESS = ['authenticated', 'public'] as const
export type EndpointAccess = (typeof ENDPOINT_ACCESS)[number]

/** What the endpoint should be. */
export interface EndpointConfig {
  namespace: string
  name: string
  vendor: string
  region: string
  accelerator: string
  instanceType: string
  instanceSize: string
  minReplica: number
  maxReplica: number
  /** Minutes without requests before scaling to zero; null: never (minReplica ≥ 1). */
  scaleToZeroTimeout: number | null
  type: EndpointAccess
  /** The API requires a model repository; Ollama ignores it (its weights come from the Ollama registry). */
  repository: string
  image: { url: string; healthRoute: string; port: number }
  /** Replaces the image's entrypoint. */
  command: string[]
  env: Record<string, string>
}

/** The endpoint as the API reports it. */
export interface Endpoint {
  name: string
  type: string
  vendor: string
  region: string
  accelerator: string
  instanceType: string
  instanceSize: string
  minReplica: number
  maxReplica: number
  scaleToZeroTimeout: number | null
  repository: string
  image: { url?: string; healthRoute?: string; port?: number }
  command: string[]
  env: Record<string, string>
  state: string
  message?: string
  url?: string
}

export interface EndpointsClientOptions {
  token: string
  apiUrl?: string
  logger: Logger
  clock?: Clock
  requestTimeoutMs?: number
  readAttempts?: number
  pollIntervalMs?: number
  /** How long a settled state may be stale after a change before it is believed. */
  staleStateGraceMs?: number
  logLines?: number
}

const progressStates = new Set(['pending', 'initializing', 'updating'])
const failedStates = new Set(['failed', 'updateFailed'])

/** `namespace/name`: a user or org, and an endpoint name (lower-case letters, digits, `-`; at most 32). */
export function parseEndpointId(id: string): { namespace: string; name: string } {
  const match = /^([A-Za-z0-9][\w.-]{0,95})\/([a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?)$/.exec(id.trim())
  if (!match) {
    throw new ConfigurationError(
      `endpoint must look like namespace/name, the name in lower-case letters, digits and - (at most 32), got "${id}"`,
    )
  }
  return { namespace: match[1] ?? '', name: match[2] ?? '' }
}

/** The endpoint's page in the Inference Endpoints console. */
export function endpointPageUrl(namespace: string, name: string): string {
  return `https://endpoints.huggingface.co/${namespace}/endpoints/${name}`
}

/** The create payload (POST /endpoint/{namespace}); an update sends its `compute` and `model`. */
export function endpointPayload(config: EndpointConfig) {
  return {
    compute: {
      accelerator: config.accelerator,
      instanceType: config.instanceType,
      instanceSize: config.instanceSize,
      scaling: {
        minReplica: config.minReplica,
        maxReplica: config.maxReplica,
        scaleToZeroTimeout: config.scaleToZeroTimeout,
      },
    },
    model: {
      repository: config.repository,
      framework: 'custom',
      task: 'custom',
      image: { custom: { ...config.image } },
      command: config.command,
      env: config.env,
    },
    name: config.name,
    provider: { region: config.region, vendor: config.vendor },
    type: config.type,
  }
}

/** The read-back document, reduced to what the pipeline compares and shows. */
function endpointFrom(raw: Record<string, unknown>): Endpoint {
  const get = (path: string[]): unknown =>
    path.reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], raw)
  const text = (path: string[]) => String(get(path) ?? '')
  const image = (get(['model', 'image', 'custom']) ?? {}) as Endpoint['image']
  const timeout = get(['compute', 'scaling', 'scaleToZeroTimeout'])
  return {
    name: text(['name']),
    type: text(['type']),
    vendor: text(['provider', 'vendor']),
    region: text(['provider', 'region']),
    accelerator: text(['compute', 'accelerator']),
    instanceType: text(['compute', 'instanceType']),
    instanceSize: text(['compute', 'instanceSize']),
    minReplica: Number(get(['compute', 'scaling', 'minReplica']) ?? 0),
    maxReplica: Number(get(['compute', 'scaling', 'maxReplica']) ?? 0),
    scaleToZeroTimeout: typeof timeout === 'number' ? timeout : null,
    repository: text(['model', 'repository']),
    image,
    command: (get(['model', 'command']) as string[] | undefined) ?? [],
    env: (get(['model', 'env']) as Record<string, string> | undefined) ?? {},
    state: text(['status', 'state']) || 'unknown',
    ...(get(['status', 'message']) ? { message: text(['status', 'message']) } : {}),
    ...(get(['status', 'url']) ? { url: text(['status', 'url']) } : {}),
  }
}

/** The protected type was renamed authenticated; an endpoint created as either has the same access. */
const sameAccess = (a: string, b: string) =>
  (a === 'protected' ? 'authenticated' : a) === (b === 'protected' ? 'authenticated' : b)

const sameRecord = (a: Record<string, string>, b: Record<string, string>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort())

/**
 * What an update would change, in words; [] when the endpoint already matches. Where the endpoint
 * lives and who may call it cannot be changed by an update: those throw a ConfigurationError.
 */
export function endpointChanges(current: Endpoint, wanted: EndpointConfig): string[] {
  const id = `${wanted.namespace}/${wanted.name}`
  if (current.vendor !== wanted.vendor || current.region !== wanted.region) {
    throw new ConfigurationError(
      `${id} runs in ${current.vendor} ${current.region}, not ${wanted.vendor} ${wanted.region}: an endpoint cannot move; delete it at ${endpointPageUrl(wanted.namespace, wanted.name)} or choose another endpoint name`,
    )
  }
  if (!sameAccess(current.type, wanted.type)) {
    throw new ConfigurationError(
      `${id} is ${current.type}, not ${wanted.type}: change its security level in its settings at ${endpointPageUrl(wanted.namespace, wanted.name)}, or pass access: ${current.type === 'protected' ? 'authenticated' : current.type}`,
    )
  }
  const changes: string[] = []
  const differs = (what: string, before: unknown, after: unknown) => {
    if (JSON.stringify(before) !== JSON.stringify(after)) changes.push(`${what} ${String(before)} → ${String(after)}`)
  }
  differs(
    'instance',
    `${current.instanceType} ${current.instanceSize}`,
    `${wanted.instanceType} ${wanted.instanceSize}`,
  )
  differs('accelerator', current.accelerator, wanted.accelerator)
  differs('min replicas', current.minReplica, wanted.minReplica)
  differs('max replicas', current.maxReplica, wanted.maxReplica)
  differs('scale-to-zero minutes', current.scaleToZeroTimeout ?? 'never', wanted.scaleToZeroTimeout ?? 'never')
  differs('image', current.image.url, wanted.image.url)
  differs('port', current.image.port, wanted.image.port)
  differs('health route', current.image.healthRoute, wanted.image.healthRoute)
  differs('repository', current.repository, wanted.repository)
  if (JSON.stringify(current.command) !== JSON.stringify(wanted.command)) changes.push('start command')
  if (!sameRecord(current.env, wanted.env)) {
    const keys = new Set([...Object.keys(current.env), ...Object.keys(wanted.env)])
    for (const key of [...keys].sort()) if (current.env[key] !== wanted.env[key]) changes.push(`env ${key}`)
  }
  return changes
}

export class EndpointsClient {
  private readonly apiUrl: string
  private readonly clock: Clock
  private readonly logger: Logger

  constructor(private readonly options: EndpointsClientOptions) {
    this.apiUrl = (options.apiUrl ?? ENDPOINTS_API_URL).replace(/\/+$/, '')
    this.clock = options.clock ?? realClock
    this.logger = options.logger
  }

  /** The token is valid and may manage endpoints in `namespace` (listing them is the cheapest proof). */
  async preflight(namespace: string): Promise<void> {
    try {
      await this.read(() => this.send('GET', `/endpoint/${namespace}`))
    } catch (error) {
      const status = error instanceof ServiceError ? error.status : undefined
      if (status === 401) {
        throw new ConfigurationError(
          'the Endpoints API rejected hf-token (401): create a write token at huggingface.co/settings/tokens and store it as the HF_TOKEN secret',
        )
      }
      if (status === 403 || status === 404) {
        throw new ConfigurationError(
          `hf-token may not manage Inference Endpoints of ${namespace} (${status}): use a write token of a member of ${namespace}, or a fine-grained token with the Inference Endpoints write permission on it`,
        )
      }
      throw error
    }
    this.logger.info(`token ok: may manage Inference Endpoints of ${namespace}`)
  }

  /** The endpoint, or undefined when it does not exist. */
  async find(namespace: string, name: string): Promise<Endpoint | undefined> {
    try {
      return endpointFrom(await this.read(() => this.send('GET', `/endpoint/${namespace}/${name}`)))
    } catch (error) {
      if (error instanceof ServiceError && error.status === 404) return undefined
      throw error
    }
  }

  async create(config: EndpointConfig): Promise<'created' | 'existed'> {
    const { namespace, name } = config
    return writeOnce({
      describe: `creating endpoint ${namespace}/${name}`,
      service: endpointsService,
      logger: this.logger,
      clock: this.clock,
      send: () =>
        this.send('POST', `/endpoint/${namespace}`, endpointPayload(config)).then(
          () => 'created' as const,
          (error: unknown) => {
            if (error instanceof ServiceError && error.status === 409) return 'existed' as const
            throw writeRefusal(config, error)
          },
        ),
      confirm: async () => ((await this.find(namespace, name)) ? ('created' as const) : undefined),
    })
  }

  /** Sends the whole compute and model sections; settled by reading back that nothing differs any more. */
  async update(config: EndpointConfig): Promise<void> {
    const { namespace, name } = config
    const { compute, model } = endpointPayload(config)
    await writeOnce({
      describe: `the update of endpoint ${namespace}/${name}`,
      service: endpointsService,
      logger: this.logger,
      clock: this.clock,
      send: () =>
        this.send('PUT', `/endpoint/${namespace}/${name}`, { compute, model }).then(
          () => true,
          (error: unknown) => {
            throw writeRefusal(config, error)
          },
        ),
      confirm: async () => {
        const now = await this.find(namespace, name)
        return now && endpointChanges(now, config).length === 0 ? true : undefined
      },
    })
  }

  async resume(namespace: string, name: string): Promise<void> {
    await writeOnce({
      describe: `resuming endpoint ${namespace}/${name}`,
      service: endpointsService,
      logger: this.logger,
      clock: this.clock,
      send: () => this.send('POST', `/endpoint/${namespace}/${name}/resume`).then(() => true),
      confirm: async () => {
        const state = (await this.find(namespace, name))?.state
        return state && state !== 'paused' ? true : undefined
      },
    })
  }

  /** The last lines of the endpoint's container log; a line saying why when they cannot be read. */
  async logTail(namespace: string, name: string): Promise<string[]> {
    try {
      const text = await this.send<string>('GET', `/endpoint/${namespace}/${name}/logs`)
      const lines = String(text).replace(/\s+$/, '').split('\n').filter(Boolean)
      return lines.slice(-(this.options.logLines ?? 30))
    } catch (error) {
      return [`(log unavailable: ${error instanceof Error ? error.message : String(error)})`]
    }
  }

  /**
   * Polls until `running` with a URL, logging each state change. After a change (`expectChange`), a
   * settled state seen before any progress state may be the old one, so it is believed only after the
   * grace period. `failed`/`updateFailed` throw with the log tail. A scale-to-zero endpoint that is
   * asleep (`scaledToZero`) counts as up when `asleepIsUp`: it wakes on the first request.
   */
  async waitUntilRunning(
    namespace: string,
    name: string,
    options: { timeoutMs: number; expectChange: boolean; asleepIsUp: boolean },
  ): Promise<Endpoint> {
    const started = this.clock.now()
    const grace = this.options.staleStateGraceMs ?? 30_000
    let sawProgress = !options.expectChange
    let last: string | undefined
    return pollUntil(
      async () => {
        const endpoint = await this.find(namespace, name)
        if (!endpoint) throw new ServiceError(endpointsService, `${namespace}/${name} disappeared while starting`)
        const state = endpoint.state
        if (state !== last) {
          this.logger.info(`state ${last ?? '—'} → ${state}${endpoint.message ? ` (${endpoint.message})` : ''}`)
          last = state
        }
        if (progressStates.has(state)) {
          sawProgress = true
          return undefined
        }
        if (!sawProgress && this.clock.now() - started < grace) return undefined
        if (state === 'running' && endpoint.url) return endpoint
        if (state === 'scaledToZero' && options.asleepIsUp) return endpoint
        if (failedStates.has(state)) throw await this.startFailure(namespace, name, endpoint)
        if (state === 'paused') {
          throw new ServiceError(endpointsService, `${namespace}/${name} is paused`, {
            nextStep: 're-run the job (it resumes a paused endpoint)',
          })
        }
        return undefined
      },
      {
        timeoutMs: options.timeoutMs,
        intervalMs: this.options.pollIntervalMs ?? 5000,
        clock: this.clock,
        what: `endpoint ${namespace}/${name} to run`,
      },
    )
  }

  private async startFailure(namespace: string, name: string, endpoint: Endpoint): Promise<ServiceError> {
    const tail = await this.logTail(namespace, name)
    const reason = endpoint.message ? `: ${endpoint.message}` : ''
    const capacity = /capacity|unavailable|not available|insufficient/i.test(endpoint.message ?? '')
    const next = capacity
      ? 'no machine of this instance type is free in this region: choose another region or instance and re-run, or re-run later'
      : `fix the cause shown in the log, then re-run (it redeploys); full log: ${endpointPageUrl(namespace, name)}`
    const logs = tail.length > 0 ? `\nlast ${tail.length} lines of the container log:\n${tail.join('\n')}` : ''
    return new ServiceError(
      endpointsService,
      `${namespace}/${name} stopped at ${endpoint.state}${reason} — ${next}${logs}`,
    )
  }

  private read<T>(fn: () => Promise<T>): Promise<T> {
    return retryRead(fn, {
      attempts: this.options.readAttempts ?? 4,
      clock: this.clock,
      onRetry: (error, delayMs, attempt) =>
        this.logger.warning(`${error.message}; retry ${attempt} in ${Math.round(delayMs / 1000)} s`),
    })
  }

  private async send<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const where = `${method} ${path}`
    const timeoutMs = this.options.requestTimeoutMs ?? 30_000
    let status: number
    let text: string
    let contentType: string
    let limit: { retryAfter?: string; reset?: string }
    try {
      const response = await request(`${this.apiUrl}${path}`, {
        method: method as 'GET',
        headers: {
          authorization: `Bearer ${this.options.token}`,
          'user-agent': 'zerollama-create-endpoint',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      })
      status = response.statusCode
      contentType = header(response.headers, 'content-type') ?? ''
      limit = {
        retryAfter: header(response.headers, 'retry-after'),
        reset: header(response.headers, 'x-ratelimit-reset'),
      }
      text = await response.body.text()
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
      const reason = timedOut
        ? `got no answer within ${timeoutMs / 1000} s`
        : `failed: ${error instanceof Error ? error.message : String(error)}`
      throw new ServiceError(endpointsService, `${where} ${reason}`, { retryable: true })
    }
    this.logger.debug(`${where} → ${status}`)
    if (status >= 400) {
      const retryAfterMs = rateLimitWaitMs(limit, this.clock.now())
      throw new ServiceError(endpointsService, `${where} answered ${status}${detailOf(text)}`, {
        status,
        retryAfterMs,
        retryable: status === 429 || status >= 500,
        nextStep:
          status === 429
            ? rateLimitHint(
                retryAfterMs,
                'the Endpoints API is rate limiting this token; wait a few minutes and re-run',
              )
            : status >= 500
              ? 'the Endpoints API is failing; re-run the job later (it is idempotent)'
              : undefined,
      })
    }
    if (!contentType.includes('json')) return text as T
    return (text ? JSON.parse(text) : {}) as T
  }
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

function detailOf(text: string): string {
  let detail = text
  try {
    const json = JSON.parse(text) as { error?: string; message?: string }
    detail = json.error ?? json.message ?? text
  } catch {
    // not JSON: the text itself
  }
  return detail ? `: ${detail.slice(0, 300)}` : ''
}

/** A refused create or update, in the operator's terms: billing, GPU quota, capacity, or the configuration. */
function writeRefusal(config: EndpointConfig, error: unknown): unknown {
  if (!(error instanceof ServiceError) || error.status === undefined || error.status >= 500 || error.status === 429)
    return error
  const instance = `${config.instanceType} ${config.instanceSize}`
  const where = `${config.vendor} ${config.region}`
  const text = error.message
  if (error.status === 402) {
    return new ConfigurationError(
      `the Endpoints API refused ${config.namespace}/${config.name} (402 Payment Required): add a payment method or credits for ${config.namespace} at huggingface.co/settings/billing (endpoints bill per minute while running), then re-run`,
    )
  }
  if (/quota/i.test(text)) {
    return new ConfigurationError(
      `no GPU quota for ${instance} in ${config.namespace} (${error.status}): request quota at https://endpoints.huggingface.co/contact, or pick an instance you have quota for (input instance). ${text}`,
    )
  }
  if (/capacity|unavailable|not available|insufficient/i.test(text)) {
    return new ConfigurationError(
      `no capacity for ${instance} in ${where} (${error.status}): choose another region or instance, or re-run later. ${text}`,
    )
  }
  if (error.status === 401) {
    return new ConfigurationError('the Endpoints API rejected hf-token (401): check the HF_TOKEN secret')
  }
  if (error.status === 403) {
    return new ConfigurationError(
      `hf-token may not create or change endpoints of ${config.namespace} (403): use a write token, or a fine-grained token with the Inference Endpoints write permission`,
    )
  }
  return new ConfigurationError(`the Endpoints API refused the endpoint's configuration: ${text}`)
}
