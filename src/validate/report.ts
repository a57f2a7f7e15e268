import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { formatCop, type ZerollamaEndpointAdvice } from '../zerollama-catalog.js'
import type { ZerollamaDiagnostics } from '../zerollama-diagnostics.js'
import type { CognitiaReport } from './cognitia.js'
import type { SpaceReport } from './space.js'
import type { CheckResult } from './types.js'

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
  const endpoint = report.endpointCost
  if (endpoint) {
    const replicas =
      endpoint.minReplica === 0
        ? `0–${endpoint.maxReplica}, scales to zero: awake ${endpoint.awakeHoursPerDay} h a day (input awake-hours-per-day)`
        : `${endpoint.minReplica}–${endpoint.maxReplica}: ${endpoint.awakeHoursPerDay} replica-hours a day at the minimum`
    tables.push({
      title: `Inference Endpoint costs (COP at ${endpoint.usdCop} per USD, ${endpoint.usdCopDate})`,
      header: ['Item', 'Value'],
      rows: [
        ['Instance', `${endpoint.instanceLabel} (${endpoint.instance}), $${endpoint.usdPerHour}/h per replica`],
        ['Replicas', replicas],
        ['Per hour awake', formatCop(endpoint.perHourCop)],
        ['Per day', formatCop(endpoint.perDayCop)],
        ['Per month', `${formatCop(endpoint.perMonthCop)} (more while it scales above the minimum)`],
      ],
    })
  }
  if (report.endpointAdvice) tables.push(adviceTable(report.endpointAdvice))
  if (report.zerogpu)
    tables.push({
      title: 'ZeroGPU runtime (first deploy)',
      header: ['Question', 'Answer', 'Next step'],
      rows: zerogpuRows(report.zerogpu, report.checks),
    })
  return tables
}

/** The Space's break-even advice: ZeroGPU credits against a dedicated Inference Endpoint, in replies a day. */
function adviceTable(a: ZerollamaEndpointAdvice): SummaryTable {
  const measured =
    a.measured_hours > 0
      ? `${Math.round(a.replies_per_day).toLocaleString('en-US')} a day (last ${a.measured_hours} h through the Space)`
      : 'none measured yet'
  const verdict =
    a.break_even_replies_per_day === null
      ? `this tier cannot buy credits: past ${Math.round(a.quota_replies_per_day)} replies a day calls are refused (429); the endpoint serves them`
      : a.endpoint_cheaper
        ? 'the endpoint is cheaper: move to it (docs/runbook.md §9)'
        : 'ZeroGPU is cheaper at this traffic'
  return {
    title: 'ZeroGPU or an Inference Endpoint',
    header: ['Item', 'Value'],
    rows: [
      ['Replies', measured],
      ['Quota per reply', `${a.quota_seconds_per_reply} s (${a.basis})`],
      [
        'ZeroGPU credits',
        a.zerogpu_cop_per_day === null ? 'cannot be bought on this tier' : `${formatCop(a.zerogpu_cop_per_day)}/day`,
      ],
      [
        'Inference Endpoint',
        `${a.instance_label} at $${a.usd_per_hour}/h, ${a.awake_hours_per_day} h a day: ${formatCop(a.endpoint_cop_per_day)}/day`,
      ],
      [
        'Break-even',
        a.break_even_replies_per_day === null
          ? '—'
          : `${Math.round(a.break_even_replies_per_day).toLocaleString('en-US')} replies a day`,
      ],
      ['Verdict', verdict],
    ],
  }
}

const gb = (bytes: number) => `${(bytes / 1e9).toFixed(1)} GB`
const seconds = (value: number) => `${value.toFixed(1)} s`

/**
 * The open questions of a first real deploy (docs/runbook.md §7), answered from the diagnostics; the
 * next steps are those of the matching checks (src/validate/zerogpu.ts), shown when they failed or informed.
 */
function zerogpuRows(d: ZerollamaDiagnostics, checks: CheckResult[]): string[][] {
  const nextStep = (id: string) => {
    const check = checks.find((c) => c.id === id)
    return d.zerogpu && check?.status !== 'pass' ? (check?.detail ?? '') : ''
  }
  const off = 'n/a off ZeroGPU'
  const factor = d.gpu.duration_factor
  const { estimated_seconds: estimated, last_measured_seconds: measured } = d.cold_start
  const speeds = d.models.filter((m) => m.tokens_per_second !== null)
  return [
    [
      'ZeroGPU on?',
      `${d.zerogpu ? 'on' : 'off (local rehearsal or dedicated hardware)'}; spaces ${d.spaces_version ?? 'not installed'}`,
      '',
    ],
    [
      'Caller billing (X-IP-Token)',
      !d.zerogpu
        ? off
        : d.x_ip_token_present
          ? "reached the app: GPU time billed to the caller's account"
          : "absent: GPU time drawn from the Space's shared pool",
      nextStep('zerogpu-caller-billing'),
    ],
    ['Node and duration factor', d.gpu.model ? `${d.gpu.model}, ×${factor}` : off, ''],
    ['Default GPU size', d.gpu.default_size ?? off, nextStep('zerogpu-gpu-size')],
    [
      'Duration per call (requested)',
      `${d.durations.min_seconds}–${d.durations.max_seconds} s` +
        (factor ? `, ×${factor}: up to ${Math.round(d.durations.max_seconds * factor)} s asked of the scheduler` : ''),
      d.zerogpu ? 'a 400 "requested GPU time is too long" means past the cap: lower ZEROLLAMA_MAX_GPU_SECONDS' : '',
    ],
    [
      'Packed models',
      `${d.packed.models.join(', ') || 'none'} (${gb(d.packed.bytes)}` +
        (d.gpu.xlarge_threshold_bytes ? ` of ${gb(d.gpu.xlarge_threshold_bytes)} before xlarge)` : ')'),
      '',
    ],
    [
      'Cold start of a new worker',
      !d.zerogpu
        ? off
        : `${measured === null ? 'not measured yet' : `measured ${seconds(measured)}`}, estimated ${seconds(estimated)}`,
      nextStep('zerogpu-cold-start'),
    ],
    [
      'Decode step',
      !d.zerogpu
        ? off
        : (d.decode.last_step ?? 'no generation yet') +
          (d.decode.last_capture_seconds === null ? '' : `, last capture ${seconds(d.decode.last_capture_seconds)}`),
      nextStep('zerogpu-decode-step'),
    ],
    [
      'Measured tokens/s',
      speeds.map((m) => `${m.name} ${m.tokens_per_second?.toFixed(1)}`).join(', ') || 'none measured yet',
      '',
    ],
  ]
}

export async function writeReport(path: string, report: ValidationReport): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`)
}
