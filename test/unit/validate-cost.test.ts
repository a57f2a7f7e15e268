import { describe, expect, it } from 'vitest'
import { type CostsData, costSection, isBilledHardware } from '../../src/validate/cost.js'
import { summaryTables } from '../../src/validate/report.js'
import { parseZerollamaCatalog, type ZerollamaCatalog } from '../../src/zerollama-catalog.js'

const costs: CostsData = {
  days_per_month: 30,
  tiers: {
    free: { label: 'Free account', monthly_usd_per_seat: 0, daily_quota_minutes: 5, can_buy_over_quota: false },
    pro: { label: 'PRO ($9/month)', monthly_usd_per_seat: 9, daily_quota_minutes: 40, can_buy_over_quota: true },
  },
  hardware: {
    'zero-a10g': { label: 'ZeroGPU', usd_per_hour: null },
    'cpu-basic': { label: 'CPU Basic', usd_per_hour: 0 },
    l4x1: { label: '1x L4', usd_per_hour: 0.8 },
  },
}

const modelCost = (quotaSecondsPer1k: number, overQuotaCop: number) => ({
  basis: 'measured' as const,
  gpu_seconds_per_1k_tokens: quotaSecondsPer1k,
  per_1k_tokens_usd: 0,
  per_1k_tokens_cop: 0,
  quota_seconds_per_1k_tokens: quotaSecondsPer1k,
  over_quota_per_1k_tokens_cop: overQuotaCop,
  typical_reply_tokens: 300,
  typical_reply_cop: 0,
})

function catalogOf(over: Partial<ZerollamaCatalog> = {}): ZerollamaCatalog {
  return parseZerollamaCatalog({
    currency: 'COP',
    usd_cop: 4000,
    usd_cop_date: '2026-03-03',
    tier: 'pro',
    hardware: 'zero-a10g',
    quota: { daily_seconds: 2400, used_seconds: null, left_seconds: null },
    models: [
      { name: 'phi3', display_order: 2, cost: modelCost(10, 2000) },
      { name: 'qwen2.5:7b', display_order: 1, cost: modelCost(20, 4000) },
    ],
    excluded: [],
    ...over,
  })
}

describe('costSection', () => {
  it('inside the quota: only the subscription (PRO $9 × 4000 COP)', () => {
    // 1M tokens × 20 s/1k = 20,000 s < 2400 s × 30 = 72,000 s included
    const section = costSection(catalogOf(), { monthlyTokens: 1_000_000 }, costs)
    expect(section.subscriptionPerMonthCop).toBe(36_000)
    expect(section.includedQuotaSecondsPerMonth).toBe(72_000)
    expect(section.hardwareBilled).toBe(false)
    expect(section.models.map((m) => m.model)).toEqual(['qwen2.5:7b', 'phi3'])
    const qwen = section.models[0]
    expect(qwen?.monthlyQuotaSeconds).toBe(20_000)
    expect(qwen?.monthlyOverQuotaSeconds).toBe(0)
    expect(qwen?.monthlyTotalCop).toBe(36_000)
  })

  it('past the quota: over-quota seconds at the catalog price per quota second', () => {
    // 10M tokens × 20 s/1k = 200,000 s; 128,000 s over; 4000 COP / 20 s = 200 COP per s
    const qwen = costSection(catalogOf(), { monthlyTokens: 10_000_000 }, costs).models[0]
    expect(qwen?.monthlyOverQuotaSeconds).toBe(128_000)
    expect(qwen?.monthlyUsageCop).toBe(25_600_000)
    expect(qwen?.monthlyTotalCop).toBe(25_636_000)
  })

  it('the free tier cannot buy over-quota time: nothing billed past the quota', () => {
    const section = costSection(
      catalogOf({ tier: 'free', quota: { daily_seconds: null, used_seconds: null, left_seconds: null } }),
      { monthlyTokens: 10_000_000 },
      costs,
    )
    expect(section.includedQuotaSecondsPerMonth).toBe(9_000) // 5 min × 60 × 30, from the tier table
    expect(section.canBuyOverQuota).toBe(false)
    expect(section.models[0]?.monthlyUsageCop).toBe(0)
    expect(section.models[0]?.monthlyTotalCop).toBe(0)
  })

  it('dedicated hardware from the Hub runtime bills every hour of the month', () => {
    const section = costSection(catalogOf(), { monthlyTokens: 0, hardware: 'l4x1', models: ['phi3'] }, costs)
    expect(section.hardware).toBe('l4x1')
    expect(section.hardwareBilled).toBe(true)
    expect(section.hardwarePerMonthCop).toBeCloseTo(0.8 * 24 * 30 * 4000)
    expect(section.models.map((m) => m.model)).toEqual(['phi3'])
    expect(section.models[0]?.monthlyTotalCop).toBeCloseTo(36_000 + 2_304_000)
  })

  it('treats unknown flavors as billed and refuses an unknown tier', () => {
    expect(isBilledHardware('mystery', costs)).toBe(true)
    expect(isBilledHardware('zero-a10g', costs)).toBe(false)
    expect(() => costSection(catalogOf({ tier: 'platinum' }), { monthlyTokens: 1 }, costs)).toThrow(/unknown tier/)
  })

  it('keeps models without a cost figure out of the arithmetic and names them', () => {
    const catalog = catalogOf({
      models: [
        { ...catalogOf().models[0], name: 'qwen2.5:7b', cost: null },
        {
          ...catalogOf().models[1],
          name: 'phi3',
          cost: { ...modelCost(10, 2000), over_quota_per_1k_tokens_cop: null },
        },
      ] as ZerollamaCatalog['models'],
    })
    const section = costSection(catalog, { monthlyTokens: 10_000_000 }, costs)
    expect(section.modelsWithoutFigures).toEqual(['qwen2.5:7b'])
    // the server sends null when credits cannot be bought: past the quota nothing is billed
    expect(section.models.map((m) => [m.model, m.overQuotaPer1kTokensCop, m.monthlyUsageCop])).toEqual([
      ['phi3', null, 0],
    ])
  })

  it('reports a free-tier catalog as the server sends it: null over-quota price, null cost', () => {
    // JSON text, so the nulls reach the parser the way the Space's answer brings them.
    const wire = JSON.stringify({
      currency: 'COP',
      usd_cop: 4000,
      usd_cop_date: '2026-03-03',
      tier: 'free',
      hardware: 'zero-a10g',
      quota: { daily_seconds: 300, used_seconds: null, left_seconds: null },
      models: [
        { name: 'phi3', display_order: 1, cost: { ...modelCost(10, 0), over_quota_per_1k_tokens_cop: null } },
        { name: 'qwen2.5:7b', display_order: 2, cost: null },
      ],
      excluded: [],
    })
    const section = costSection(parseZerollamaCatalog(JSON.parse(wire)), { monthlyTokens: 10_000_000 }, costs)
    expect(section.models.map((m) => [m.model, m.overQuotaPer1kTokensCop, m.monthlyUsageCop])).toEqual([
      ['phi3', null, 0],
    ])
    expect(section.modelsWithoutFigures).toEqual(['qwen2.5:7b'])
    const report = {
      target: 'space' as const,
      baseUrl: 'https://alice-zerollama.hf.space',
      generatedAt: '2026-03-03T00:00:00Z',
      passed: true,
      checks: [],
      models: [],
      runtime: null,
      cost: section,
      zerogpu: null,
    }
    const [, costTable, monthly] = summaryTables(report)
    expect(costTable?.rows).toEqual([
      ['phi3', expect.any(String), 'refused (429) until the reset', '10.0', expect.any(String)],
    ])
    expect(JSON.stringify(costTable?.rows)).not.toMatch(/NaN|null/)
    expect(monthly?.rows).toContainEqual(['No cost figure yet', 'qwen2.5:7b'])
  })

  it('on dedicated hardware no quota applies: the hardware is the bill', () => {
    const section = costSection(catalogOf({ hardware: 'l4x1' }), { monthlyTokens: 10_000_000 }, costs)
    expect(section.includedQuotaSecondsPerMonth).toBe(0)
    expect(section.models[0]?.monthlyUsageCop).toBe(0)
    expect(section.models[0]?.monthlyTotalCop).toBeCloseTo(36_000 + 0.8 * 24 * 30 * 4000)
  })

  it('reads the real space/costs.json by default', () => {
    const section = costSection(catalogOf(), { monthlyTokens: 0 })
    expect(section.tierLabel).toMatch(/PRO/)
    expect(section.subscriptionPerMonthCop).toBe(9 * 4000)
  })
})

describe('parseZerollamaCatalog', () => {
  it('rejects a catalog whose cost figures are missing, naming the field', () => {
    expect(() =>
      parseZerollamaCatalog({
        usd_cop: 1,
        tier: 'pro',
        hardware: 'zero-a10g',
        quota: {},
        models: [{ name: 'phi3', display_order: 1, cost: { per_1k_tokens_cop: 'free' } }],
      }),
    ).toThrow(/models\[0\]\.cost\.per_1k_tokens_cop should be number/)
    expect(() => parseZerollamaCatalog([])).toThrow(/not a JSON object/)
  })
})
