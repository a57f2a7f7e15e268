/**
 * The migration's phases in the order of .github/workflows/migrate.yml, run through the committed
 * action bundles. The terminal (`zerollama migrate`) and the rehearsal (`npm start`) both drive this;
 * they differ only in how a gate is answered and where the endpoints point.
 */
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ValidationReport } from '../validate/report.js'
import { type ActionResult, runActionBundle } from './action-runner.js'
import { summaryToText } from './summary-text.js'

export interface RailwaySettings {
  token: string
  tokenKind: 'project' | 'workspace' | 'account'
  /** Name or id; a project token already names it. */
  project: string
  environment: string
  service: string
  ollamaService: string
}

/** Where Ollama moves: a ZeroGPU Space (create-space) or a dedicated Inference Endpoint (create-endpoint). */
export const TARGETS = ['space', 'endpoint'] as const
export type Target = (typeof TARGETS)[number]

export interface MigrationSettings {
  /** owner/name: the Space, or with target endpoint the endpoint's namespace/name */
  space: string
  /** Default space. */
  target?: Target
  models: string
  private: boolean
  hfToken: string
  /** The Space's shared key (ZEROLLAMA_API_KEY), when it has one. */
  apiKey: string
  railway: RailwaySettings
  healthUrl: string
  dryRun: boolean
  /** Endpoints for the actions' processes: HF_ENDPOINT, RAILWAY_API_URL (fakes in the rehearsal). */
  env: Record<string, string>
  /**
   * Where pull-models and validate send Ollama traffic; by default the Space's own API URL
   * (create-space's output). The rehearsal points it at the local server, which may still be starting.
   */
  ollamaBaseUrl?: string | (() => Promise<string>)
  /** Extra validate inputs (thresholds), e.g. require-gpu=false where no GPU exists. */
  validateInputs?: Record<string, string>
  /** Extra switch-railway inputs, e.g. a shorter poll-interval-seconds against the fake. */
  switchInputs?: Record<string, string>
  /** Extra create-endpoint inputs (instance, region, replicas). */
  endpointInputs?: Record<string, string>
}

export type PhaseResult = 'ok' | 'failed' | 'stopped' | 'planned'

export interface PhaseRecord {
  phase: string
  result: PhaseResult
  seconds: number
  /** Short facts for the closing table: ids, URLs, validation figures. */
  figures: string[]
}

export interface Gate {
  /** The GitHub environment this gate stands for: production or decommission. */
  environment: 'production' | 'decommission'
  /** What approving it does, in one line. */
  action: string
  /** The word the operator types to approve. */
  word: string
}

export interface PipelineIo {
  print: (line: string) => void
  /** Shows the gate and answers it: true to go on. */
  approve: (gate: Gate) => Promise<boolean>
}

export class PhaseFailed extends Error {
  constructor(
    readonly phase: string,
    message: string,
  ) {
    super(`${phase}: ${message}`)
  }
}

const secretsOf = (s: MigrationSettings) => [s.hfToken, s.apiKey, s.railway.token].filter(Boolean)

/** Inputs every switch-railway mode shares; the GitHub Deployment record needs a GitHub token, so it is off here. */
function railwayInputs(s: MigrationSettings): Record<string, string> {
  const r = s.railway
  return {
    'railway-token': r.token,
    'railway-token-kind': r.tokenKind,
    'railway-project': r.project,
    'railway-environment': r.environment,
    'railway-service': r.service,
    'ollama-service': r.ollamaService,
    'github-token': '',
    ...s.switchInputs,
  }
}

export class Migration {
  readonly records: PhaseRecord[] = []
  /** Everything each action printed, wrote as outputs and put in its summary: scanned for tokens. */
  readonly transcript: string[] = []
  private spaceApiUrl = ''
  private spaceId = ''

  constructor(
    private readonly settings: MigrationSettings,
    private readonly io: PipelineIo,
  ) {}

  /** Runs one action as a phase; a failed action ends the run with PhaseFailed. */
  async phase(
    phase: string,
    action: string,
    inputs: Record<string, string>,
    figures: (result: ActionResult) => string[] = () => [],
    options: { showSummary?: boolean } = {},
  ): Promise<ActionResult> {
    this.io.print('')
    this.io.print(`━━ ${phase} (actions/${action})`)
    const started = Date.now()
    const result = await runActionBundle(action, inputs, {
      env: this.settings.env,
      secrets: secretsOf(this.settings),
      print: this.io.print,
    })
    const seconds = (Date.now() - started) / 1000
    // `::add-mask::` lines hand the secret to the runner so it can hide it; everything else must not hold one.
    const printed = result.output
      .split('\n')
      .filter((line) => !line.startsWith('::add-mask::'))
      .join('\n')
    this.transcript.push([printed, JSON.stringify(result.outputs), result.summary].join('\n'))
    const failed = result.exitCode !== 0
    const record: PhaseRecord = {
      phase,
      result: failed ? 'failed' : this.settings.dryRun ? 'planned' : 'ok',
      seconds,
      figures: figures(result),
    }
    this.records.push(record)
    // The validate summary holds the figures a reviewer reads before approving, passed or not.
    if (options.showSummary && result.summary.trim()) {
      this.io.print('')
      for (const line of summaryToText(result.summary).split('\n')) this.io.print(`   ${line}`)
    }
    this.io.print(`   ${failed ? '✗ failed' : '✓ done'} in ${seconds.toFixed(1)} s`)
    if (failed)
      throw new PhaseFailed(phase, `actions/${action} exited with ${result.exitCode}; its output above says why`)
    return result
  }

  async gate(gate: Gate): Promise<void> {
    this.io.print('')
    this.io.print(`━━ gate: environment "${gate.environment}" — ${gate.action}`)
    const approved = await this.io.approve(gate)
    if (!approved) {
      this.records.push({ phase: `gate ${gate.environment}`, result: 'stopped', seconds: 0, figures: ['not approved'] })
      throw new PhaseFailed(`gate ${gate.environment}`, 'not approved; nothing after it ran')
    }
    this.records.push({ phase: `gate ${gate.environment}`, result: 'ok', seconds: 0, figures: ['approved'] })
  }

  private get target(): Target {
    return this.settings.target ?? 'space'
  }

  /** create-space, or create-endpoint for target endpoint: either way the URL Ollama answers at. */
  async deploy(): Promise<void> {
    if (this.target === 'endpoint') await this.createEndpoint()
    else await this.createSpace()
  }

  async createEndpoint(): Promise<void> {
    const s = this.settings
    const result = await this.phase(
      'create-endpoint',
      'create-endpoint',
      {
        endpoint: s.space,
        'hf-token': s.hfToken,
        access: s.private ? 'authenticated' : 'public',
        models: s.models,
        'dry-run': String(s.dryRun),
        ...s.endpointInputs,
      },
      (r) => [r.outputs['endpoint-url'] ?? '', r.outputs['api-base-url'] ?? '', r.outputs.state ?? ''],
    )
    this.spaceId = result.outputs.endpoint || s.space
    this.spaceApiUrl = result.outputs['api-base-url'] ?? ''
    if (!this.spaceApiUrl && !s.dryRun) throw new PhaseFailed('create-endpoint', 'gave no api-base-url output')
  }

  async createSpace(): Promise<void> {
    const s = this.settings
    const result = await this.phase(
      'create-space',
      'create-space',
      {
        space: s.space,
        'hf-token': s.hfToken,
        private: String(s.private),
        // Stored as the Space's ZEROLLAMA_API_KEY secret, which then guards every API route.
        'api-key': s.apiKey,
        'dry-run': String(s.dryRun),
      },
      (r) => [
        r.outputs['space-url'] ?? '',
        r.outputs['commit-sha'] ? `commit ${r.outputs['commit-sha'].slice(0, 12)}` : '',
      ],
    )
    this.spaceId = result.outputs['space-id'] || s.space
    this.spaceApiUrl = result.outputs['api-base-url'] ?? ''
    if (!this.spaceApiUrl) throw new PhaseFailed('create-space', 'gave no api-base-url output')
  }

  private async ollamaBaseUrl(): Promise<string> {
    const override = this.settings.ollamaBaseUrl
    return typeof override === 'function' ? override() : (override ?? this.spaceApiUrl)
  }

  async pullModels(): Promise<void> {
    const s = this.settings
    await this.phase(
      'pull-models',
      'pull-models',
      { models: s.models, 'base-url': await this.ollamaBaseUrl(), 'hf-token': s.hfToken, 'api-key': s.apiKey },
      (r) => [`ready: ${r.outputs.models ?? ''}`],
    )
  }

  /** Validates the Space and prints the summary a reviewer reads before approving. */
  async validateSpace(): Promise<ValidationReport | undefined> {
    const s = this.settings
    return this.withReport(async (reportPath) => {
      await this.phase(
        'validate',
        'validate',
        {
          target: 'space',
          'base-url': await this.ollamaBaseUrl(),
          ...(this.target === 'endpoint'
            ? // An endpoint bills by the hour by design: validate prices it instead of refusing it.
              { endpoint: this.spaceId, 'allow-paid-hardware': 'true' }
            : { 'space-id': this.spaceId }),
          'hf-token': s.hfToken,
          'api-key': s.apiKey,
          models: s.models,
          'report-path': reportPath,
          ...s.validateInputs,
        },
        () => spaceFigures(readReport(reportPath)),
        { showSummary: true },
      )
      return readReport(reportPath)
    })
  }

  async switchRailway(phase = 'switch'): Promise<void> {
    const s = this.settings
    await this.phase(
      phase,
      'switch-railway',
      {
        ...railwayInputs(s),
        mode: 'switch',
        'space-url': this.spaceApiUrl,
        'hf-token': s.private ? s.hfToken : '',
        'dry-run': String(s.dryRun),
      },
      (r) => [`${r.outputs['previous-url'] ?? '?'} → ${r.outputs['current-url'] ?? '?'}`],
    )
  }

  async validateCognitia(): Promise<void> {
    const s = this.settings
    const r = s.railway
    await this.withReport((reportPath) =>
      this.phase(
        'validate-cognitia',
        'validate',
        {
          target: 'cognitia',
          'base-url': this.spaceApiUrl,
          'railway-token': r.token,
          'railway-token-kind': r.tokenKind,
          'railway-project': r.project,
          'railway-environment': r.environment,
          'railway-service': r.service,
          'cognitia-health-url': s.healthUrl,
          'report-path': reportPath,
        },
        () => checkFigures(readReport(reportPath)),
        { showSummary: true },
      ),
    )
  }

  async railwayMode(mode: 'decommission' | 'rollback' | 'reactivate', phase: string = mode): Promise<void> {
    const s = this.settings
    await this.phase(phase, 'switch-railway', { ...railwayInputs(s), mode, 'dry-run': String(s.dryRun) }, (r) =>
      mode === 'rollback' ? [`${r.outputs['previous-url'] ?? '?'} → ${r.outputs['current-url'] ?? '?'}`] : [],
    )
  }

  /**
   * The whole migration, as migrate.yml runs it. A failure after the switch rolls Cognitia back
   * to the recorded URL at once, like the workflow's rollback job.
   */
  async run(): Promise<void> {
    await this.deploy()
    const what = this.target === 'endpoint' ? 'Inference Endpoint' : 'Space'
    if (this.settings.dryRun) {
      this.io.print(`\n(dry run: no ${what} was changed, so pull-models and validate have nothing to measure)`)
      if (!this.spaceApiUrl) {
        this.io.print('(the endpoint does not exist yet: it gets its URL when created, so there is no switch to plan)')
        return
      }
      await this.switchRailway()
      return
    }
    await this.pullModels()
    await this.validateSpace()
    await this.gate({
      environment: 'production',
      action: `point Cognitia's OLLAMA_BASE_URL at ${this.spaceApiUrl}`,
      word: 'switch',
    })
    let switched = false
    try {
      await this.switchRailway()
      switched = true
      await this.validateCognitia()
    } catch (error) {
      if (switched || (error instanceof PhaseFailed && error.phase === 'switch')) {
        this.io.print('\nThe switch or its check failed: rolling Cognitia back to the recorded URL now.')
        await this.railwayMode('rollback', 'rollback (automatic)')
      }
      throw error
    }
    await this.gate({
      environment: 'decommission',
      action: `stop the old "${this.settings.railway.ollamaService}" service (reversible: zerollama rollback)`,
      word: 'decommission',
    })
    await this.railwayMode('decommission')
  }

  private async withReport<T>(fn: (reportPath: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'zerollama-report-'))
    try {
      return await fn(join(dir, 'report.json'))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }
}

function readReport(path: string): ValidationReport | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as ValidationReport) : undefined
}

/** Per model: TTFT, tokens/s and device; then any failed check. */
export function spaceFigures(report: ValidationReport | undefined): string[] {
  if (!report) return ['no report']
  const models =
    report.target === 'space'
      ? report.models.map(
          (m) => `${m.model}: TTFT ${Math.round(m.ttftMs)} ms, ${m.tokensPerSecond.toFixed(1)} tok/s, ${m.device}`,
        )
      : []
  return [...models, ...checkFigures(report)]
}

function checkFigures(report: ValidationReport | undefined): string[] {
  if (!report) return ['no report']
  const count = (status: string) => report.checks.filter((c) => c.status === status).length
  const failed = report.checks.filter((c) => c.status === 'fail')
  return [
    `checks: ${count('pass')} passed, ${failed.length} failed, ${count('skip')} skipped`,
    ...failed.map((c) => `✗ ${c.title}: ${c.observed}`),
  ]
}
