/**
 * Typed client for the zerollama Space's `GET /api/zerollama/catalog` (contract: docs/catalog-api.md).
 * Self-contained on purpose (standard fetch, no other imports) so Cognitia's model selector can use it
 * as is; the pipeline reads the same endpoint through OllamaClient.catalog().
 */

export type AccountTier = 'free' | 'pro' | 'team' | 'enterprise' | (string & {})

export interface ZerollamaQuota {
  /** Daily ZeroGPU seconds included in the tier; null when unknown. */
  daily_seconds: number | null
  used_seconds: number | null
  left_seconds: number | null
}

export interface ZerollamaModelCost {
  /** "measured" from this server's own figures, "estimated" from the model size until then. */
  basis: 'measured' | 'estimated'
  gpu_seconds_per_1k_tokens: number
  /** Money actually billed per 1,000 generated tokens (0 while inside the daily quota). */
  per_1k_tokens_usd: number
  per_1k_tokens_cop: number
  /** Daily quota consumed per 1,000 tokens. */
  quota_seconds_per_1k_tokens: number
  /** What 1,000 tokens cost once the quota is spent (credits); null on tiers that cannot buy credits. */
  over_quota_per_1k_tokens_cop: number | null
  typical_reply_tokens: number
  typical_reply_cop: number
}

export interface ZerollamaCatalogModel {
  name: string
  aliases: string[]
  purpose: string
  recommended_use: string
  parameter_size: string
  size_bytes: number
  context_length: number
  capabilities: string[]
  display_order: number
  /** Resident on the GPU (or in memory off ZeroGPU). */
  loaded: boolean
  /** Measured on the server; null until its first generation. */
  tokens_per_second: number | null
  /** null when the server has no honest figure yet (not measured, and no GPU bandwidth to estimate from). */
  cost: ZerollamaModelCost | null
}

/** Every reply the server recorded in the last 24 h, all callers together (the quota ledger). */
export interface ZerollamaTraffic {
  replies: number
  quota_seconds: number
  /** How long the ledger has been counting (it starts with the server), at most 24. */
  observed_hours: number
}

/** When a dedicated Inference Endpoint would cost less than ZeroGPU credits (space/zerollama/core/costs.py). */
export interface ZerollamaEndpointAdvice {
  /** A key of space/costs.json endpoint_instances (its default_endpoint_instance). */
  instance: string
  instance_label: string
  usd_per_hour: number
  awake_hours_per_day: number
  endpoint_cop_per_day: number
  /** Measured through the Space, scaled to a day; 0 before the first reply. */
  replies_per_day: number
  /** Hours of traffic that figure rests on; 0 when nothing was measured yet. */
  measured_hours: number
  quota_seconds_per_reply: number
  /** "measured": the ledger's mean reply; "typical": a typical reply at the models' speed. */
  basis: 'measured' | 'typical'
  /** Credits a day at that traffic; null when the tier cannot buy credits. */
  zerogpu_cop_per_day: number | null
  /** Replies a day past which the endpoint is cheaper; null when the tier cannot buy credits. */
  break_even_replies_per_day: number | null
  quota_replies_per_day: number
  endpoint_cheaper: boolean
}

export interface ZerollamaCatalog {
  currency: 'COP'
  usd_cop: number
  usd_cop_date: string
  tier: AccountTier
  /** The Space's hardware flavor: zero-a10g, or a dedicated (hourly billed) one. */
  hardware: string
  quota: ZerollamaQuota
  /** Curated models, in display order. */
  models: ZerollamaCatalogModel[]
  excluded: { name: string; reason: string }[]
  /** Absent from servers older than the cost advice. */
  traffic?: ZerollamaTraffic
  /** null off ZeroGPU; absent from servers older than the cost advice. */
  endpoint_advice?: ZerollamaEndpointAdvice | null
}

export class ZerollamaCatalogError extends Error {
  override name = 'ZerollamaCatalogError'
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * What is wrong with `object[key]` for a field of `type` (a `typeof` name, 'array' or 'object'; null
 * allowed when nullable), or undefined when nothing is. Shared with the diagnostics parse.
 */
export function fieldProblem(
  object: Record<string, unknown>,
  key: string,
  type: string,
  where: string,
  nullable = false,
): string | undefined {
  const value = object[key]
  const ok =
    (nullable && value === null) ||
    (type === 'array' ? Array.isArray(value) : type === 'object' ? isObject(value) : typeof value === type)
  return ok ? undefined : `${where}${key} should be ${type}${nullable ? ' or null' : ''}, got ${JSON.stringify(value)}`
}

function expectField(
  object: Record<string, unknown>,
  key: string,
  type: string,
  where: string,
  nullable = false,
): void {
  const problem = fieldProblem(object, key, type, where, nullable)
  if (problem) throw new ZerollamaCatalogError(`catalog: ${problem}`)
}

/**
 * Checks the fields the selector and the validate report rely on, so a server that drifts from the
 * contract fails loudly here instead of showing NaN pesos. Models come back sorted by display_order.
 */
export function parseZerollamaCatalog(value: unknown): ZerollamaCatalog {
  if (!isObject(value)) throw new ZerollamaCatalogError('catalog: the body is not a JSON object')
  expectField(value, 'usd_cop', 'number', '')
  expectField(value, 'tier', 'string', '')
  expectField(value, 'hardware', 'string', '')
  expectField(value, 'quota', 'object', '')
  expectField(value, 'models', 'array', '')
  for (const [index, model] of (value.models as unknown[]).entries()) {
    if (!isObject(model)) throw new ZerollamaCatalogError(`catalog: models[${index}] is not an object`)
    expectField(model, 'name', 'string', `models[${index}].`)
    expectField(model, 'display_order', 'number', `models[${index}].`)
    expectField(model, 'cost', 'object', `models[${index}].`, true)
    const cost = model.cost as Record<string, unknown> | null
    if (!cost) continue
    for (const key of ['per_1k_tokens_cop', 'quota_seconds_per_1k_tokens'])
      expectField(cost, key, 'number', `models[${index}].cost.`)
    expectField(cost, 'over_quota_per_1k_tokens_cop', 'number', `models[${index}].cost.`, true)
  }
  const catalog = { excluded: [], ...value } as unknown as ZerollamaCatalog
  return { ...catalog, models: [...catalog.models].sort((a, b) => a.display_order - b.display_order) }
}

export interface FetchCatalogOptions {
  /** e.g. { Authorization: 'Bearer hf_…' } for a private Space: the same headers your Ollama client sends. */
  headers?: Record<string, string>
  timeoutMs?: number
  fetch?: typeof fetch
}

/** GETs `<baseUrl>/api/zerollama/catalog` and returns it typed and checked. */
export async function fetchZerollamaCatalog(
  baseUrl: string,
  options: FetchCatalogOptions = {},
): Promise<ZerollamaCatalog> {
  const url = `${baseUrl.replace(/\/+$/, '')}/api/zerollama/catalog`
  const response = await (options.fetch ?? fetch)(url, {
    headers: { Accept: 'application/json', ...options.headers },
    signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
  })
  if (!response.ok) {
    const body = await response.text().catch(() => '')
    throw new ZerollamaCatalogError(`catalog: HTTP ${response.status} from ${url}: ${body.slice(0, 300)}`)
  }
  return parseZerollamaCatalog(await response.json())
}

/**
 * Pesos as the Space's page writes them too (space/zerollama/ui.py format_cop; both held to
 * test/fixtures/cop-format.json). COP is written in whole pesos with '.' between thousands ("$ 1.234.567"):
 * the smallest coin is 50 pesos, so cents would only be noise. An amount under 10 keeps one decimal
 * ("$ 3,2", ',' as the decimal sign) so that a reply costing a few pesos does not read as free. Half rounds
 * up. Written out rather than with Intl, whose es-CO output puts a no-break space after '$' and depends on
 * the ICU data of the Node build: the two languages must print the very same characters.
 */
export function formatCop(value: number): string {
  const scale = value !== 0 && Math.abs(value) < 10 ? 10 : 1
  const scaled = Math.floor(Math.abs(value) * scale + 0.5)
  const whole = String(Math.floor(scaled / scale)).replace(/\B(?=(\d{3})+(?!\d))/g, '.')
  const tenth = scaled % scale
  return `${value < 0 && scaled > 0 ? '-' : ''}$ ${whole}${tenth ? `,${tenth}` : ''}`
}
