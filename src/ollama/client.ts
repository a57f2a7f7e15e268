import { errorMessage, ServiceError } from '../errors.js'
import { type Clock, parseRetryAfter, pollUntil, type RetryOptions, rateLimitHint, retryRead } from '../retry.js'
import { parseZerollamaCatalog, type ZerollamaCatalog } from '../zerollama-catalog.js'
import { DIAGNOSTICS_PATH, parseZerollamaDiagnostics, type ZerollamaDiagnostics } from '../zerollama-diagnostics.js'
import { readNdjson } from './ndjson.js'
import type {
  ChatChunk,
  ChatRequest,
  GenerateChunk,
  GenerateRequest,
  PsResponse,
  PullStatus,
  RunningModel,
  TagModel,
  TagsResponse,
} from './types.js'

export interface OllamaClientOptions {
  /** The Space API base URL, e.g. https://owner-name.hf.space (no /api suffix). */
  baseUrl: string
  /** Token of an account that can read the private Space; HF checks it at its proxy. */
  hfToken?: string
  /** The server's optional shared key (ZEROLLAMA_API_KEY secret). */
  apiKey?: string
  /** Longest wait for the response headers, and for a whole non-streamed body. */
  requestTimeoutMs?: number
  /** Longest silence allowed between two lines of a stream (a stalled pull or generation). */
  idleTimeoutMs?: number
  /** Backoff for idempotent reads (tests pass a fake clock). */
  retry?: RetryOptions
  /** Aborts every request when it fires: the caller's overall deadline (the action's timeout-minutes). */
  signal?: AbortSignal
  /** Node's fetch (undici inside) unless a test injects another. */
  fetch?: typeof fetch
}

/**
 * The server takes its shared key here or as a Bearer token; this header leaves Authorization free for
 * the HF token that a private Space's proxy checks.
 */
export const API_KEY_HEADER = 'X-API-Key'

/** An error answer of the Ollama API; `serverMessage` is the `error` string of its JSON body. */
export class OllamaApiError extends ServiceError {
  override name = 'OllamaApiError'
  constructor(
    readonly path: string,
    readonly serverMessage: string,
    options: { status?: number; retryAfterMs?: number; retryable?: boolean; nextStep?: string },
  ) {
    super('ollama', `${path}: ${serverMessage}${options.status ? ` (HTTP ${options.status})` : ''}`, options)
  }
}

const QUOTA_SPENT = 'wait for the reset or add credits, then re-run'

function nextStepFor(status: number): string | undefined {
  if (status === 401 || status === 403)
    return 'pass hf-token (an account with read access to the private Space) or the Space api-key'
  if (status === 404) return 'check the base-url and the model name'
  if (status >= 500) return 'check the Space logs on huggingface.co, then re-run'
  return undefined
}

/** A client for the Ollama HTTP API of the zerollama Space (or a real Ollama). One per base URL. */
export class OllamaClient {
  readonly baseUrl: string
  private readonly fetch: typeof fetch
  private readonly requestTimeoutMs: number
  private readonly idleTimeoutMs: number

  constructor(private readonly options: OllamaClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '')
    this.fetch = options.fetch ?? globalThis.fetch
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000
    this.idleTimeoutMs = options.idleTimeoutMs ?? 120_000
  }

  /** The auth headers this client sends; empty when it has no credentials. */
  authHeaders(): Record<string, string> {
    const { hfToken, apiKey } = this.options
    const headers: Record<string, string> = {}
    if (hfToken) headers.Authorization = `Bearer ${hfToken}`
    if (apiKey) headers[API_KEY_HEADER] = apiKey
    return headers
  }

  async version(): Promise<string> {
    return ((await this.readJson('/api/version')) as { version: string }).version
  }

  /**
   * Waits until the API answers /api/version: a Space that was just (re)started, or is waking from sleep,
   * serves its port (and HF reports RUNNING) a moment before the API routes exist. Refused credentials
   * end the wait at once, since time will not fix them.
   */
  async waitUntilReady(options: { timeoutMs: number; intervalMs?: number; clock?: Clock }): Promise<string> {
    let lastProblem = 'no answer'
    const answered = async () => {
      try {
        return await this.version()
      } catch (error) {
        if (error instanceof OllamaApiError && (error.status === 401 || error.status === 403)) throw error
        lastProblem = errorMessage(error)
        return undefined
      }
    }
    try {
      return await pollUntil(answered, {
        timeoutMs: options.timeoutMs,
        intervalMs: options.intervalMs ?? 2000,
        clock: options.clock,
        what: `the Ollama API at ${this.baseUrl}`,
      })
    } catch (error) {
      if (error instanceof ServiceError && error.service === 'timeout')
        throw new OllamaApiError(
          '/api/version',
          `not ready after ${Math.round(options.timeoutMs / 1000)} s; last answer: ${lastProblem}`,
          {
            nextStep: 'check the Space is RUNNING and its logs on huggingface.co',
          },
        )
      throw error
    }
  }

  async tags(): Promise<TagModel[]> {
    return ((await this.readJson('/api/tags')) as TagsResponse).models ?? []
  }

  async ps(): Promise<RunningModel[]> {
    return ((await this.readJson('/api/ps')) as PsResponse).models ?? []
  }

  async catalog(): Promise<ZerollamaCatalog> {
    return parseZerollamaCatalog(await this.readJson('/api/zerollama/catalog'))
  }

  /**
   * What the Space's ZeroGPU runtime says of this request (same credentials as the API); null from a
   * server without the route, such as a real Ollama, which answers 404.
   */
  async diagnostics(): Promise<ZerollamaDiagnostics | null> {
    try {
      return parseZerollamaDiagnostics(await this.readJson(DIAGNOSTICS_PATH))
    } catch (error) {
      if (error instanceof OllamaApiError && error.status === 404) return null
      throw error
    }
  }

  /** The HTTP status of a GET sent with no credentials at all: a private Space must refuse it. */
  async statusWithoutAuth(path = '/api/tags'): Promise<number> {
    try {
      const response = await this.send('GET', path, undefined, false)
      await response.body?.cancel()
      return response.status
    } catch (error) {
      if (error instanceof OllamaApiError && error.status !== undefined) return error.status
      throw error
    }
  }

  /** Pulls a model, reporting every status line; resolves on `success`, throws on an error line. */
  async pull(model: string, onStatus: (status: PullStatus) => void): Promise<void> {
    for await (const line of this.stream('/api/pull', { model, name: model, stream: true })) {
      const status = line as PullStatus
      onStatus(status)
      if (status.status === 'success') return
    }
    throw new OllamaApiError('/api/pull', `the stream for ${model} ended without "success"`, { retryable: true })
  }

  generate(request: GenerateRequest): AsyncGenerator<GenerateChunk> {
    return this.untilDone<GenerateChunk>('/api/generate', request)
  }

  chat(request: ChatRequest): AsyncGenerator<ChatChunk> {
    return this.untilDone<ChatChunk>('/api/chat', request)
  }

  /** Streams a generation up to its `done: true` chunk; a stream that ends before it is an error. */
  private async *untilDone<T extends { done: boolean }>(path: string, request: object): AsyncGenerator<T> {
    for await (const chunk of this.stream(path, { ...request, stream: true })) {
      yield chunk as T
      if ((chunk as T).done) return
    }
    throw new OllamaApiError(path, 'the stream ended without a done chunk', { retryable: true })
  }

  private readJson(path: string): Promise<unknown> {
    return retryRead(async () => {
      const response = await this.send('GET', path)
      return this.bodyJson(path, response)
    }, this.options.retry)
  }

  private async bodyJson(path: string, response: Response): Promise<unknown> {
    try {
      return await response.json()
    } catch (error) {
      throw new OllamaApiError(path, `unreadable JSON body (${(error as Error).message})`, { retryable: true })
    }
  }

  /** POSTs a body and yields its NDJSON lines; an `error` line becomes an OllamaApiError. */
  private async *stream(path: string, body: unknown): AsyncGenerator<unknown> {
    const idle = new AbortController()
    const response = await this.send('POST', path, body, true, idle.signal)
    if (!response.body) throw new OllamaApiError(path, 'empty response body', { retryable: true })
    let timer = setTimeout(() => idle.abort(), this.idleTimeoutMs)
    try {
      for await (const line of readNdjson(response.body)) {
        clearTimeout(timer)
        const error = (line as { error?: unknown }).error
        if (error) throw new OllamaApiError(path, String(error), { status: response.status })
        yield line
        timer = setTimeout(() => idle.abort(), this.idleTimeoutMs)
      }
    } catch (error) {
      if (this.options.signal?.aborted) throw new OllamaApiError(path, 'the overall time limit ran out', {})
      if (idle.signal.aborted)
        throw new OllamaApiError(path, `no data for ${this.idleTimeoutMs / 1000} s, gave up`, { retryable: true })
      throw error
    } finally {
      clearTimeout(timer)
      idle.abort()
    }
  }

  /** One HTTP exchange; non-2xx answers become OllamaApiError with Ollama's `error` text. */
  private async send(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    withAuth = true,
    streamSignal?: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...(withAuth ? this.authHeaders() : {}) }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    // A plain request must finish, body included, within the limit; a stream only has to start within it
    // and is then held to the idle limit instead.
    const headersDeadline = new AbortController()
    const timer = setTimeout(() => headersDeadline.abort(), this.requestTimeoutMs)
    const limits = streamSignal ? [headersDeadline.signal, streamSignal] : [AbortSignal.timeout(this.requestTimeoutMs)]
    if (this.options.signal) limits.push(this.options.signal)
    const signal = AbortSignal.any(limits)
    let response: Response
    try {
      response = await this.fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      })
    } catch (error) {
      if (this.options.signal?.aborted) throw new OllamaApiError(path, 'the overall time limit ran out', {})
      const cause = (error as Error).cause as Error | undefined
      const reason = signal.aborted
        ? `no answer within ${this.requestTimeoutMs / 1000} s`
        : `cannot reach ${this.baseUrl} (${cause?.message ?? (error as Error).message})`
      throw new OllamaApiError(path, reason, { retryable: true, nextStep: 'check base-url and that the Space runs' })
    } finally {
      clearTimeout(timer)
    }
    if (response.ok) return response
    const text = await response.text().catch(() => '')
    let message = text.slice(0, 500) || response.statusText
    try {
      message = String((JSON.parse(text) as { error?: unknown }).error ?? message)
    } catch {}
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'))
    throw new OllamaApiError(path, message, {
      status: response.status,
      retryAfterMs,
      retryable: response.status === 429 || response.status >= 500,
      nextStep:
        response.status === 429
          ? `the ZeroGPU quota is spent; ${rateLimitHint(retryAfterMs, QUOTA_SPENT)}`
          : nextStepFor(response.status),
    })
  }
}
