import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { formatCop } from '../zerollama-catalog.js'
import type { CognitiaReport } from './cognitia.js'
import type { SpaceReport } from './space.js'

export type ValidationReport = SpaceReport | CognitiaReport

/** A table for the job summary: a title, a header row and data rows (plain strings, no markup). */
export interface SummaryTable {
  title: string
  header: string[]
  rows: string[][]
}

const mark = { pass: '✅ pass', fail: '❌ fail', skip: '➖ skip' } as const

/** The tables a reviewer reads before approving the switch: checks, per-model figures, costs. */
export function summaryTables(report: ValidationReport): SummaryTable[] {
  const tables: SummaryTable[] = [
    {
      title: 'Checks',
      header: ['Check', 'Result', 'Observed', 'Threshold', 'Next step'],
      rows: report.checks.map((c) => [c.title, mark[c.status], c.observed, c.expected, c.detail ?? '']),
    },
  ]
  if (report.target === 'cognitia') return tables
  if (report.models.length > 0)
    tables.push({
      title: 'Per model',
      header: ['Model', 'TTFT (warm)', 'Tokens/s', 'Device', 'GPU s (reply)', 'Cost (reply)'],
      rows: report.models.map((m) => [
        m.model,
        `${Math.round(m.ttftMs)} ms`,
        m.tokensPerSecond.toFixed(1),
        m.device,
        m.gpuSeconds === null ? '-' : m.gpuSeconds.toFixed(2),
        m.replyCostCop === null ? '-' : formatCop(m.replyCostCop),
      ]),
    })
  const cost = report.cost
  if (cost) {
    const perMonth = (value: number) => `${formatCop(value)}/month`
    tables.push({
      title: `Costs (COP at ${cost.usdCop} per USD, ${cost.usdCopDate}; tier ${cost.tierLabel})`,
      header: [
        'Model',
        'Billed per 1,000 tokens',
        'Past quota per 1,000 tokens',
        'Quota s per 1,000 tokens',
        'Month estimate',
      ],
      rows: cost.models.map((m) => [
        m.model,
        formatCop(m.per1kTokensCop),
        m.overQuotaPer1kTokensCop === null ? 'refused (429) until the reset' : formatCop(m.overQuotaPer1kTokensCop),
        m.quotaSecondsPer1kTokens.toFixed(1),
        perMonth(m.monthlyTotalCop),
      ]),
    })
    tables.push({
      title: `Monthly estimate for ${cost.monthlyTokens.toLocaleString('en-US')} generated tokens`,
      header: ['Item', 'Value'],
      rows: [
        [
          'Hardware',
          `${cost.hardware} — ${cost.hardwareBilled ? `billed, ${perMonth(cost.hardwarePerMonthCop)}` : 'not billed'}`,
        ],
        ['Subscription', perMonth(cost.subscriptionPerMonthCop)],
        ['Included ZeroGPU quota', `${Math.round(cost.includedQuotaSecondsPerMonth / 60)} min/month`],
        ...(cost.modelsWithoutFigures.length > 0 ? [['No cost figure yet', cost.modelsWithoutFigures.join(', ')]] : []),
      ],
    })
  }
  return tables
}

export async function writeReport(path: string, report: ValidationReport): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`)
}
