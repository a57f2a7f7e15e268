import { errorMessage } from '../errors.js'
import type { Endpoint } from '../hf/endpoints.js'
import type { Logger } from '../logger.js'
import type { OllamaClient } from '../ollama/client.js'
import type { ZerollamaCatalog, ZerollamaEndpointAdvice } from '../zerollama-catalog.js'
import type { ZerollamaDiagnostics } from '../zerollama-diagnostics.js'
import {
  checkAuth,
  checkEndpointBilling,
  checkGpu,
  checkHardwareBilling,
  checkModelsPresent,
  checkTokensPerSecond,
  checkTtft,
} from './checks.js'
import { type CostSection, costSection, type EndpointCostSection, endpointCostSection, endpointPrices } from './cost.js'
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
  /** An Inference Endpoint (namespace/name) behind base-url: its instance and replicas are read and priced. */
  endpoint?: { namespace: string; name: string }
  /** Hours a day a scale-to-zero endpoint is awake (one with a minimum replica never sleeps); default costs.json's. */
  awakeHoursPerDay?: number
  measure?: MeasureOptions
}

/** Reads an Inference Endpoint (EndpointsClient.find). */
export interface EndpointReader {
  find(namespace: string, name: string): Promise<Endpoint | undefined>
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
  /** What the Inference Endpoint behind base-url bills ($/h × hours awake); null for a Space. */
  endpointCost?: EndpointCostSection | null
  /** The Space's own break-even advice (catalog endpoint_advice): when an Inference Endpoint costs less. */
  endpointAdvice?: ZerollamaEndpointAdvice | null
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
  deps: { client: OllamaClient; logger: Logger; runtime?: RuntimeReader; endpoints?: EndpointReader },
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
  let endpointCost: EndpointCostSection | null = null
  let endpointAdvice: ZerollamaEndpointAdvice | null = null
  await logger.group('Hardware and costs', async () => {
    if (options.endpoint) {
      endpointCost = await readEndpointCost(deps, options, checks)
      return
    }
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
    endpointAdvice = catalog?.endpoint_advice ?? null
    if (endpointAdvice) logger.info(adviceLine(endpointAdvice))
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
    endpointCost,
    endpointAdvice,
    zerogpu,
  }
}

/** The endpoint's instance and replicas from the Endpoints API, priced; a failure is a failed check. */
async function readEndpointCost(
  deps: { logger: Logger; endpoints?: EndpointReader },
  options: SpaceValidationOptions,
  checks: CheckResult[],
): Promise<EndpointCostSection | null> {
  const { namespace = '', name = '' } = options.endpoint ?? {}
  const id = `${namespace}/${name}`
  try {
    if (!deps.endpoints) throw new Error('no Endpoints API reader (give hf-token)')
    const endpoint = await deps.endpoints.find(namespace, name)
    if (!endpoint) throw new Error(`${id} does not exist`)
    const cost = endpointCostSection(
      {
        instance: `${endpoint.vendor}-${endpoint.instanceType}-${endpoint.instanceSize}`,
        minReplica: endpoint.minReplica,
        maxReplica: endpoint.maxReplica,
      },
      { awakeHoursPerDay: options.awakeHoursPerDay ?? endpointPrices.endpoint_awake_hours_per_day },
    )
    deps.logger.info(
      `${id}: ${cost.instanceLabel}, $${cost.usdPerHour}/h per replica × ${cost.awakeHoursPerDay} replica-hours a day`,
    )
    checks.push(checkEndpointBilling(cost, options.allowPaidHardware))
    return cost
  } catch (error) {
    checks.push(
      failedCheck(
        'hardware-billing',
        'No paid hardware billed (Inference Endpoint)',
        error,
        "check endpoint and hf-token (a token that may read the namespace's endpoints)",
      ),
    )
    return null
  }
}

/** The advice in one line, with the break-even in replies a day. */
export function adviceLine(a: ZerollamaEndpointAdvice): string {
  const endpoint = `${a.instance_label} endpoint ($${a.usd_per_hour}/h, ${a.awake_hours_per_day} h a day)`
  if (a.break_even_replies_per_day === null) {
    return `this tier cannot buy ZeroGPU credits: past ${Math.round(a.quota_replies_per_day)} replies a day calls are refused; an ${endpoint} serves any number`
  }
  const measured =
    a.measured_hours > 0 ? `${Math.round(a.replies_per_day)} replies a day measured` : 'no traffic measured yet'
  const verdict = a.endpoint_cheaper ? ': move to it (docs/runbook.md §9)' : ''
  return `${measured}; an ${endpoint} is cheaper than ZeroGPU credits past ${Math.round(a.break_even_replies_per_day)} replies a day${verdict}`
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
