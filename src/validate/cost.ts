import costsJson from '../../space/costs.json' with { type: 'json' }
import type { ZerollamaCatalog } from '../zerollama-catalog.js'

/** The parts of space/costs.json (the one cost model's data) that the report needs. */
export interface CostsData {
  days_per_month: number
  tiers: Record<
    string,
    { label: string; monthly_usd_per_seat: number; daily_quota_minutes: number; can_buy_over_quota: boolean }
  >
  hardware: Record<string, { label: string; usd_per_hour: number | null }>
}

export const costsData: CostsData = costsJson as unknown as CostsData

/** The parts of space/costs.json that price Inference Endpoints. */
export interface EndpointPrices {
  days_per_month: number
  usd_cop: { rate: number; date: string }
  /** The instance create-endpoint uses, and the break-even advice compares ZeroGPU with, when none is named. */
  default_endpoint_instance: string
  endpoint_awake_hours_per_day: number
  endpoint_instances: Record<string, EndpointInstance | string>
}

export const endpointPrices: EndpointPrices = costsJson as unknown as EndpointPrices

/** One Inference Endpoints instance of space/costs.json: the API's own values and the price of one replica. */
export interface EndpointInstance {
  label: string
  vendor: string
  accelerator: string
  instance_type: string
  instance_size: string
  usd_per_hour: number
  gpus: number
  gpu_memory_gb: number
}

const ZEROGPU = 'zero-a10g'

/** Hourly price of a hardware flavor in USD: 0 for free flavors, null when the flavor is unknown. */
export function hourlyUsd(flavor: string, costs: CostsData = costsData): number | null {
  const entry = costs.hardware[flavor]
  if (!entry) return null
  return entry.usd_per_hour ?? 0
}

/** ZeroGPU (no hourly price) and cpu-basic are free; anything priced, or unknown, bills per minute. */
export function isBilledHardware(flavor: string, costs: CostsData = costsData): boolean {
  const price = hourlyUsd(flavor, costs)
  return price === null || price > 0
}

/** The priced Inference Endpoints instances, by key (`aws-nvidia-l4-x1`); `$comment`-style keys are left out. */
export function endpointInstances(costs: EndpointPrices = endpointPrices): Record<string, EndpointInstance> {
  return Object.fromEntries(
    Object.entries(costs.endpoint_instances).filter(
      (entry): entry is [string, EndpointInstance] => !entry[0].startsWith('$') && typeof entry[1] === 'object',
    ),
  )
}

/** The instance named by `key` (empty: costs.json default_endpoint_instance); undefined when it has no price. */
export function findEndpointInstance(
  key: string,
  costs: EndpointPrices = endpointPrices,
): (EndpointInstance & { key: string }) | undefined {
  const wanted = key.trim() || costs.default_endpoint_instance
  const entry = endpointInstances(costs)[wanted]
  return entry && { ...entry, key: wanted }
}

/**
 * What an Inference Endpoint bills: the hourly price of one replica × the replica-hours it is awake per
 * day. With a minimum of one replica or more it never sleeps (24 h × that minimum); a scale-to-zero
 * endpoint (minimum 0) is awake `awakeHoursPerDay`, the operator's estimate of the hours it serves.
 */
export interface EndpointCostSection {
  currency: 'COP'
  usdCop: number
  usdCopDate: string
  instance: string
  instanceLabel: string
  usdPerHour: number
  minReplica: number
  maxReplica: number
  /** Replica-hours billed per day at the minimum number of replicas (more while it scales up). */
  awakeHoursPerDay: number
  perHourCop: number
  perDayCop: number
  perMonthCop: number
}

export function endpointCostSection(
  endpoint: { instance: string; minReplica: number; maxReplica: number },
  options: { awakeHoursPerDay: number },
  costs: EndpointPrices = endpointPrices,
): EndpointCostSection {
  const instance = findEndpointInstance(endpoint.instance, costs)
  if (!instance) {
    throw new Error(
      `cost model: no price for Inference Endpoints instance "${endpoint.instance}" (space/costs.json endpoint_instances has ${Object.keys(endpointInstances(costs)).join(', ')})`,
    )
  }
  const awakeHoursPerDay =
    endpoint.minReplica >= 1 ? 24 * endpoint.minReplica : Math.min(24 * endpoint.maxReplica, options.awakeHoursPerDay)
  const rate = costs.usd_cop.rate
  const perDayUsd = instance.usd_per_hour * awakeHoursPerDay
  return {
    currency: 'COP',
    usdCop: rate,
    usdCopDate: costs.usd_cop.date,
    instance: instance.key,
    instanceLabel: instance.label,
    usdPerHour: instance.usd_per_hour,
    minReplica: endpoint.minReplica,
    maxReplica: endpoint.maxReplica,
    awakeHoursPerDay,
    perHourCop: instance.usd_per_hour * rate,
    perDayCop: perDayUsd * rate,
    perMonthCop: perDayUsd * costs.days_per_month * rate,
  }
}

export interface ModelCostLine {
  model: string
  basis: 'measured' | 'estimated'
  /** Billed per 1,000 tokens right now (0 while inside the daily quota). */
  per1kTokensCop: number
  /** What 1,000 tokens cost once the quota is spent; null when the tier cannot buy over-quota time. */
  overQuotaPer1kTokensCop: number | null
  quotaSecondsPer1kTokens: number
  monthlyQuotaSeconds: number
  monthlyOverQuotaSeconds: number
  /** Credits bought for the over-quota seconds; 0 on tiers that cannot buy them (calls are refused instead). */
  monthlyUsageCop: number
  /** Subscription + dedicated hardware + over-quota credits, if all monthly tokens went to this model. */
  monthlyTotalCop: number
}

export interface CostSection {
  currency: 'COP'
  usdCop: number
  usdCopDate: string
  tier: string
  tierLabel: string
  hardware: string
  hardwareBilled: boolean
  /** Dedicated hardware that never sleeps bills every hour of the month. */
  hardwarePerMonthCop: number
  subscriptionPerMonthCop: number
  /** The daily ZeroGPU quota over a month; 0 on dedicated hardware, where no quota applies. */
  includedQuotaSecondsPerMonth: number
  /** Generated tokens per month the estimate assumes (action input monthly-tokens). */
  monthlyTokens: number
  /** False on tiers that cannot buy over-quota time: past the quota, calls fail with 429 until the reset. */
  canBuyOverQuota: boolean
  models: ModelCostLine[]
  /** Curated models the server has no cost figure for yet (not measured, nothing to estimate from). */
  modelsWithoutFigures: string[]
}

/**
 * The validate report's cost section: the catalog's per-model figures (computed by the server from the
 * same cost model, space/zerollama/core/costs.py) projected onto a month of `monthlyTokens` generated
 * tokens for the catalog's tier, spread evenly over the days. This is the one monthly estimate: the server
 * prices replies and 1,000 tokens, never a month.
 * `hardware` is the flavor the Hub reports when known; the catalog's own figure otherwise.
 */
export function costSection(
  catalog: ZerollamaCatalog,
  options: { monthlyTokens: number; hardware?: string; models?: string[] },
  costs: CostsData = costsData,
): CostSection {
  const tier = costs.tiers[catalog.tier]
  if (!tier)
    throw new Error(
      `cost model: unknown tier "${catalog.tier}" (space/costs.json has ${Object.keys(costs.tiers).join(', ')})`,
    )
  const hardware = options.hardware ?? catalog.hardware
  const onZeroGpu = hardware === ZEROGPU
  const hardwarePerMonthCop = (hourlyUsd(hardware, costs) ?? 0) * 24 * costs.days_per_month * catalog.usd_cop
  const subscriptionPerMonthCop = tier.monthly_usd_per_seat * catalog.usd_cop
  const dailySeconds = catalog.quota.daily_seconds ?? tier.daily_quota_minutes * 60
  const includedQuotaSecondsPerMonth = onZeroGpu ? dailySeconds * costs.days_per_month : 0
  const wanted = catalog.models.filter((m) => !options.models || options.models.includes(m.name))
  const models = wanted.flatMap((m): ModelCostLine[] => {
    const cost = m.cost
    if (!cost) return []
    const monthlyQuotaSeconds = onZeroGpu ? (options.monthlyTokens / 1000) * cost.quota_seconds_per_1k_tokens : 0
    const monthlyOverQuotaSeconds = Math.max(0, monthlyQuotaSeconds - includedQuotaSecondsPerMonth)
    const overQuota = tier.can_buy_over_quota ? cost.over_quota_per_1k_tokens_cop : null
    const copPerQuotaSecond =
      overQuota !== null && cost.quota_seconds_per_1k_tokens > 0 ? overQuota / cost.quota_seconds_per_1k_tokens : 0
    const monthlyUsageCop = monthlyOverQuotaSeconds * copPerQuotaSecond
    return [
      {
        model: m.name,
        basis: cost.basis,
        per1kTokensCop: cost.per_1k_tokens_cop,
        overQuotaPer1kTokensCop: overQuota,
        quotaSecondsPer1kTokens: cost.quota_seconds_per_1k_tokens,
        monthlyQuotaSeconds,
        monthlyOverQuotaSeconds,
        monthlyUsageCop,
        monthlyTotalCop: subscriptionPerMonthCop + hardwarePerMonthCop + monthlyUsageCop,
      },
    ]
  })
  return {
    currency: 'COP',
    usdCop: catalog.usd_cop,
    usdCopDate: catalog.usd_cop_date,
    tier: catalog.tier,
    tierLabel: tier.label,
    hardware,
    hardwareBilled: isBilledHardware(hardware, costs),
    hardwarePerMonthCop,
    subscriptionPerMonthCop,
    includedQuotaSecondsPerMonth,
    monthlyTokens: options.monthlyTokens,
    canBuyOverQuota: tier.can_buy_over_quota,
    models,
    modelsWithoutFigures: wanted.filter((m) => !m.cost).map((m) => m.name),
  }
}
