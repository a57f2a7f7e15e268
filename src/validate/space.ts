import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import type { OllamaClient } from '../ollama/client.js'
import type { ZerollamaCatalog } from '../zerollama-catalog.js'
import type { ZerollamaDiagnostics } from '../zerollama-diagnostics.js'
import {
  checkAuth,
  checkGpu,
  checkHardwareBilling,
  checkModelsPresent,
  checkTokensPerSecond,
  checkTtft,
} from './checks.js'
import { type CostSection, costSection } from './cost.js'
import { type MeasureOptions, measureModel } from './measure.js'
import type { CheckResult, ModelMeasurement, RuntimeReader, SpaceRuntimeInfo } from './types.js'
import { zerogpuChecks } from './zerogpu.js'

export interface SpaceThresholds {
  ttftMsMax: number
  tokensPerSecondMin: number
  /** Catalog names that /api/tags must list; each is also measured. */
  requiredModels: string[]
  requireGpu: boolean
  allowPaidHardware: boolean
}

export interface SpaceValidationOptions extends SpaceThresholds {
  /** Credentials were given, so a request without them must be refused. */
  authExpected: boolean
  /** owner/name: with a RuntimeReader, the hardware check reads the Hub instead of the Space's own word. */
  spaceId?: string
  /** Generated tokens per month assumed by the cost estimate. */
  monthlyTokens: number
  measure?: MeasureOptions
}

export interface SpaceReport {
  target: 'space'
  baseUrl: string
  generatedAt: string
  passed: boolean
  checks: CheckResult[]
  models: ModelMeasurement[]
  runtime: SpaceRuntimeInfo | null
  cost: CostSection | null
  /** What the Space's ZeroGPU runtime said of validate's own request; null from a server without the route. */
  zerogpu: ZerollamaDiagnostics | null
}

const failedCheck = (id: string, title: string, error: unknown, detail: string): CheckResult => ({
  id,
  title,
  status: 'fail',
  observed: errorMessage(error),
  expected: 'an answer',
  detail,
})

/** Runs every Space check; a failing call becomes a failing check, so the report is always complete. */
export async function validateSpace(
  deps: { client: OllamaClient; logger: Logger; runtime?: RuntimeReader },
  options: SpaceValidationOptions,
): Promise<SpaceReport> {
  const { client, logger } = deps
  const checks: CheckResult[] = []
  const models: ModelMeasurement[] = []

  await logger.group('Models present', async () => {
    try {
      checks.push(checkModelsPresent(options.requiredModels, await client.tags()))
    } catch (error) {
      checks.push(failedCheck('models-present', 'Required models present', error, 'check base-url and credentials'))
    }
  })

  await logger.group('Latency and speed per model', async () => {
    for (const model of options.requiredModels) {
      try {
        const m = await measureModel(client, model, options.measure)
        logger.info(
          `${model}: TTFT ${Math.round(m.ttftMs)} ms, ${m.tokensPerSecond.toFixed(1)} tokens/s on ${m.device}`,
        )
        models.push(m)
        checks.push(checkTtft(m, options.ttftMsMax), checkTokensPerSecond(m, options.tokensPerSecondMin))
      } catch (error) {
        checks.push(failedCheck(`generate:${model}`, `${model} answers`, error, 'pull the model, then re-run'))
      }
    }
    checks.push(checkGpu(models, options.requireGpu))
  })

  await logger.group('Authentication', async () => {
    try {
      checks.push(checkAuth(options.authExpected, options.authExpected ? await client.statusWithoutAuth() : null))
    } catch (error) {
      checks.push(failedCheck('auth', 'Requests without credentials are refused', error, 'check base-url'))
    }
  })

  let runtime: SpaceRuntimeInfo | null = null
  let cost: CostSection | null = null
  await logger.group('Hardware and costs', async () => {
    let catalog: ZerollamaCatalog | undefined
    try {
      catalog = await client.catalog()
    } catch (error) {
      logger.warning(`no cost figures: /api/zerollama/catalog failed (${errorMessage(error)})`)
    }
    if (deps.runtime && options.spaceId) {
      try {
        runtime = await deps.runtime.getRuntime(options.spaceId)
      } catch (error) {
        logger.warning(
          `cannot read the Space runtime from the Hub (${errorMessage(error)}); using the catalog's hardware`,
        )
      }
    }
    if (runtime || catalog)
      checks.push(checkHardwareBilling(runtime ?? undefined, catalog?.hardware ?? '', options.allowPaidHardware))
    else
      checks.push(
        failedCheck(
          'hardware-billing',
          'No paid hardware billed',
          'hardware unknown',
          'give space-id and hf-token so the Hub can be asked',
        ),
      )
    try {
      if (catalog)
        cost = costSection(catalog, {
          monthlyTokens: options.monthlyTokens,
          hardware: runtime?.hardware.current ?? undefined,
          models: options.requiredModels,
        })
    } catch (error) {
      logger.warning(`no cost section: ${errorMessage(error)}`)
    }
  })

  // Last, so the generations above have run: a new worker's cold start is measured by then.
  const zerogpu = await logger.group('ZeroGPU runtime', () => readZerogpu(client, logger, checks))

  return {
    target: 'space',
    baseUrl: client.baseUrl,
    generatedAt: new Date().toISOString(),
    passed: checks.every((c) => c.status !== 'fail'),
    checks,
    models,
    runtime,
    cost,
    zerogpu,
  }
}

/** Reads /api/zerollama/diagnostics and adds its checks; a server without the route (real Ollama) adds none. */
async function readZerogpu(
  client: OllamaClient,
  logger: Logger,
  checks: CheckResult[],
): Promise<ZerollamaDiagnostics | null> {
  let d: ZerollamaDiagnostics | null
  try {
    d = await client.diagnostics()
  } catch (error) {
    checks.push(
      failedCheck(
        'zerogpu-runtime',
        'ZeroGPU runtime readable (diagnostics)',
        error,
        'check the Space logs on huggingface.co',
      ),
    )
    return null
  }
  if (!d) {
    logger.info('no /api/zerollama/diagnostics (HTTP 404): not a zerollama server, nothing to read')
    return null
  }
  logger.info(
    d.zerogpu
      ? `ZeroGPU on (spaces ${d.spaces_version}), ${d.gpu.model} ×${d.gpu.duration_factor}, default size ${d.gpu.default_size}; X-IP-Token ${d.x_ip_token_present ? 'reached the app' : 'absent'}`
      : `ZeroGPU off (spaces ${d.spaces_version ?? 'not installed'}): its checks are skipped`,
  )
  const found = zerogpuChecks(d, 'Authorization' in client.authHeaders())
  for (const check of found) if (check.status === 'skip' && d.zerogpu) logger.warning(`${check.title}: ${check.detail}`)
  checks.push(...found)
  return d
}
