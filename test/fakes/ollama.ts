/**
 * A small local server that speaks the zerollama Space's Ollama API for unit tests: streamed /api/pull
 * with byte progress, /api/tags, /api/ps, streamed /api/generate and /api/chat with Ollama's timing
 * fields (nanoseconds) and the zerollama cost field, /api/zerollama/catalog, /api/zerollama/diagnostics
 * (off ZeroGPU unless told), 401 without credentials when configured, and a gated-model refusal on pull.
 * Wire shapes follow shared/reference/ollama-api.md, docs/catalog-api.md and space/zerollama/diagnostics.py.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { catalog, findModel } from '../../src/catalog.js'

export interface FakeOllamaOptions {
  /** Models already pulled (catalog names). */
  pulled?: string[]
  /** Every /api route needs `Authorization: Bearer <hfToken>` (a private Space behind HF's proxy). */
  hfToken?: string
  /** The server's shared key (ZEROLLAMA_API_KEY): `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
  apiKey?: string
  /** Models whose pull is refused as gated; 'status' answers 403 up front, 'stream' fails mid-stream. */
  gated?: Record<string, 'status' | 'stream'>
  /** Delay before the first generated token. */
  ttftMs?: number
  /** Decode speed reported in eval_count / eval_duration. */
  tokensPerSecond?: number
  /** Where /api/ps says resident models live: size_vram > 0 for 'gpu'. */
  device?: 'gpu' | 'cpu'
  hardware?: string
  tier?: string
  /** Bytes per file the pull reports, and how many progress lines per file. */
  pullBytes?: number
  pullSteps?: number
  /** Write every NDJSON line in two halves, a few ms apart (a line split across packets). */
  splitLines?: boolean
  /** What /api/zerollama/diagnostics reports; false answers 404 as a real Ollama does. */
  diagnostics?: false | FakeDiagnostics
  /** The catalog's break-even advice (docs/catalog-api.md endpoint_advice); left out when absent. */
  endpointAdvice?: Record<string, unknown> | null
}

export interface FakeDiagnostics {
  /** The Space runs under ZeroGPU (default false: the local rehearsal). */
  zerogpu?: boolean
  /**
   * On ZeroGPU, the platform turns a request's `Authorization: Bearer hf_…` into the X-IP-Token the app
   * sees (default true); false: no caller token ever reaches the app.
   */
  forwardsCallerToken?: boolean
  defaultSize?: 'large' | 'xlarge'
  coldStart?: { estimatedSeconds: number; measuredSeconds: number | null }
  /** The decode section (default on ZeroGPU: CUDA graphs, captured in 0.4 s; off it: eager steps). */
  decode?: { last_step: string | null; last_capture_seconds: number | null }
}

/** The node spaces 0.51.3 picks for an RTX PRO 6000 slice (spaces/zero/configs.json). */
const RTX_PRO_6000 = { model: 'NVIDIA RTX PRO 6000 Blackwell Server Edition', factor: 1.5, xlarge: 45_100_000_000 }

export interface FakeOllama {
  url: string
  pulled: Set<string>
  loaded: Set<string>
  requests: { method: string; path: string; authorization?: string }[]
  stop(): Promise<void>
}

/** Names as Ollama and the Space list them: always with a tag (`phi3:latest` for the catalog's `phi3`). */
const shown = (name: string) => (name.includes(':') ? name : `${name}:latest`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const WORDS = ['The', ' sky', ' is', ' blue', ' because', ' of', ' Rayleigh', ' scattering', ' — ', 'ñandú', '.']

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' })
  res.end(JSON.stringify(body))
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  return text ? (JSON.parse(text) as Record<string, unknown>) : {}
}

export async function startFakeOllama(options: FakeOllamaOptions = {}): Promise<FakeOllama> {
  const pulled = new Set(options.pulled ?? [])
  const loaded = new Set<string>()
  const requests: FakeOllama['requests'] = []
  const tokensPerSecond = options.tokensPerSecond ?? 80

  // HF's proxy checks the token of a private Space; the server then checks its shared key (space/zerollama/http.py).
  const authorised = (req: IncomingMessage): boolean => {
    const bearer = req.headers.authorization?.replace(/^Bearer\s+/i, '')
    if (options.hfToken && bearer !== options.hfToken) return false
    if (options.apiKey && req.headers['x-api-key'] !== options.apiKey && bearer !== options.apiKey) return false
    return true
  }

  const streamLines = async (res: ServerResponse, lines: unknown[], gapMs = 0) => {
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson' })
    for (const line of lines) {
      const text = `${JSON.stringify(line)}\n`
      if (options.splitLines) {
        // Split inside the UTF-8 bytes so a multi-byte character can straddle two packets.
        const bytes = Buffer.from(text)
        const cut = Math.max(1, Math.floor(bytes.length / 2))
        res.write(bytes.subarray(0, cut))
        await sleep(2)
        res.write(bytes.subarray(cut))
      } else {
        res.write(text)
      }
      if (gapMs) await sleep(gapMs)
    }
    res.end()
  }

  const pull = async (res: ServerResponse, name: string) => {
    const model = findModel(name)
    if (!model) return sendJson(res, 404, { error: `pull model manifest: file does not exist` })
    const gated = options.gated?.[model.name]
    const gatedMessage = `${model.repo} is gated: accept its terms on huggingface.co and give the Space an HF_TOKEN`
    if (gated === 'status') return sendJson(res, 403, { error: gatedMessage })
    const total = options.pullBytes ?? 4_000_000_000
    const steps = options.pullSteps ?? 50
    const lines: unknown[] = [{ status: 'pulling manifest' }]
    if (gated === 'stream') lines.push({ error: gatedMessage })
    else {
      for (const digest of ['0123456789ab'.repeat(5).padEnd(64, '0'), 'fedcba987654'.repeat(5).padEnd(64, '0')])
        for (let i = 0; i <= steps; i++) {
          const completed = Math.round((total * i) / steps)
          // like the server, `completed` is left out until the first bytes arrive
          const line = { status: `pulling ${digest.slice(0, 12)}`, digest: `sha256:${digest}`, total }
          lines.push(completed ? { ...line, completed } : line)
        }
      lines.push({ status: 'verifying sha256 digest' }, { status: 'writing manifest' }, { status: 'success' })
      pulled.add(model.name)
    }
    await streamLines(res, lines)
  }

  const generation = async (res: ServerResponse, body: Record<string, unknown>, kind: 'generate' | 'chat') => {
    const name = String(body.model ?? '')
    const model = findModel(name)
    if (!model || !pulled.has(model.name))
      return sendJson(res, 404, { error: `model '${name}' not found, try pulling it first` })
    loaded.add(model.name)
    const numPredict = Number((body.options as Record<string, unknown> | undefined)?.num_predict ?? WORDS.length)
    const words = WORDS.slice(0, Math.max(1, Math.min(numPredict, WORDS.length)))
    const createdAt = new Date().toISOString()
    const piece = (text: string, done: boolean) =>
      kind === 'chat'
        ? { model: name, created_at: createdAt, message: { role: 'assistant', content: text }, done }
        : { model: name, created_at: createdAt, response: text, done }
    await sleep(options.ttftMs ?? 5)
    const evalDuration = Math.round((words.length / tokensPerSecond) * 1e9)
    const gpuSeconds = 0.5 + words.length / tokensPerSecond
    const final = {
      ...piece('', true),
      done_reason: 'stop',
      total_duration: evalDuration + 20_000_000,
      load_duration: 1_000_000,
      prompt_eval_count: 9,
      prompt_eval_duration: 10_000_000,
      eval_count: words.length,
      eval_duration: evalDuration,
      zerollama: { gpu_seconds: gpuSeconds, cost_usd: 0, cost_cop: 0, quota_seconds: gpuSeconds },
    }
    await streamLines(res, [...words.map((w) => piece(w, false)), final], 1)
  }

  const catalogBody = () => {
    const usdCop = 3768.73
    const models = catalog.models
      .filter((m) => m.curated)
      .map((m) => {
        const speed = pulled.has(m.name) ? tokensPerSecond : null
        const secondsPer1k = 1000 / (speed ?? 40)
        const overQuotaPer1kCop = (secondsPer1k / 60) * 0.1 * usdCop
        return {
          name: m.name,
          aliases: m.aliases,
          purpose: m.purpose,
          recommended_use: m.recommended_use,
          parameter_size: m.parameter_size,
          size_bytes: m.bf16_bytes,
          context_length: m.context_length,
          capabilities: m.capabilities,
          display_order: m.display_order,
          loaded: loaded.has(m.name),
          tokens_per_second: speed,
          cost: {
            basis: speed ? 'measured' : 'estimated',
            gpu_seconds_per_1k_tokens: secondsPer1k,
            per_1k_tokens_usd: 0,
            per_1k_tokens_cop: 0,
            quota_seconds_per_1k_tokens: secondsPer1k,
            over_quota_per_1k_tokens_cop: overQuotaPer1kCop,
            typical_reply_tokens: 300,
            typical_reply_cop: 0,
          },
        }
      })
    return {
      currency: 'COP',
      usd_cop: usdCop,
      usd_cop_date: '2026-03-03',
      tier: options.tier ?? 'pro',
      hardware: options.hardware ?? 'zero-a10g',
      quota: { daily_seconds: 2400, used_seconds: null, left_seconds: null },
      models,
      excluded: catalog.models.filter((m) => !m.curated).map((m) => ({ name: m.name, reason: m.excluded_reason })),
      ...(options.endpointAdvice === undefined ? {} : { endpoint_advice: options.endpointAdvice }),
    }
  }

  /** Off ZeroGPU the real server knows no node and packs nothing; on it, what is pulled is packed. */
  const diagnosticsBody = (req: IncomingMessage, settings: FakeDiagnostics) => {
    const on = settings.zerogpu ?? false
    const packed = on ? [...pulled].sort() : []
    const bearer = /^Bearer\s+hf_/i.test(req.headers.authorization ?? '')
    const callerToken = Boolean(req.headers['x-ip-token']) || (bearer && (settings.forwardsCallerToken ?? true))
    return {
      zerogpu: on,
      spaces_version: '0.51.3',
      x_ip_token_present: on && callerToken,
      gpu: {
        model: on ? RTX_PRO_6000.model : null,
        duration_factor: on ? RTX_PRO_6000.factor : null,
        xlarge_threshold_bytes: on ? RTX_PRO_6000.xlarge : null,
        default_size: on ? (settings.defaultSize ?? 'large') : null,
      },
      durations: { min_seconds: 5, max_seconds: 120 },
      packed: { bytes: packed.reduce((sum, name) => sum + (findModel(name)?.bf16_bytes ?? 0), 0), models: packed },
      cold_start: {
        estimated_seconds: on ? (settings.coldStart?.estimatedSeconds ?? 21.2) : 0,
        last_measured_seconds: on ? (settings.coldStart?.measuredSeconds ?? 12.4) : null,
      },
      decode:
        settings.decode ??
        (on
          ? { last_step: 'cuda-graph', last_capture_seconds: 0.4 }
          : { last_step: 'eager', last_capture_seconds: null }),
      models: catalog.models.map((m) => ({
        name: m.name,
        loaded: loaded.has(m.name),
        tokens_per_second: loaded.has(m.name) ? tokensPerSecond : null,
      })),
    }
  }

  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://fake').pathname
    requests.push({ method: req.method ?? '', path, authorization: req.headers.authorization })
    try {
      if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' })
        return res.end('Ollama is running')
      }
      if (!authorised(req)) return sendJson(res, 401, { error: 'Invalid credentials' })
      const route = `${req.method} ${path}`
      if (route === 'GET /api/version') return sendJson(res, 200, { version: '0.0.0-fake' })
      if (route === 'GET /api/tags')
        return sendJson(res, 200, {
          models: [...pulled].map((name) => ({
            name: shown(name),
            model: shown(name),
            modified_at: new Date().toISOString(),
            size: findModel(name)?.bf16_bytes ?? 0,
            digest: 'sha256:0',
            details: { format: 'safetensors', family: findModel(name)?.family },
          })),
        })
      if (route === 'GET /api/ps')
        return sendJson(res, 200, {
          models: [...loaded].map((name) => {
            const size = findModel(name)?.bf16_bytes ?? 0
            return {
              name: shown(name),
              model: shown(name),
              size,
              size_vram: options.device === 'cpu' ? 0 : size,
              expires_at: new Date().toISOString(),
            }
          }),
        })
      if (route === 'GET /api/zerollama/catalog') return sendJson(res, 200, catalogBody())
      if (route === 'GET /api/zerollama/diagnostics' && options.diagnostics !== false)
        return sendJson(res, 200, diagnosticsBody(req, options.diagnostics ?? {}))
      if (route === 'POST /api/pull') {
        const body = await readBody(req)
        return await pull(res, String(body.model ?? body.name ?? ''))
      }
      if (route === 'POST /api/generate') return await generation(res, await readBody(req), 'generate')
      if (route === 'POST /api/chat') return await generation(res, await readBody(req), 'chat')
      return sendJson(res, 404, { error: `${route} not found` })
    } catch (error) {
      if (!res.headersSent) sendJson(res, 400, { error: (error as Error).message })
      else res.end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    pulled,
    loaded,
    requests,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}
