import * as core from '@actions/core'
import { modelsOrDefaults } from '../../../src/catalog.js'
import { ConfigurationError } from '../../../src/errors.js'
import { parseEndpointId } from '../../../src/hf/endpoints.js'
import { type RailwayTokenKind, TOKEN_KINDS } from '../../../src/railway/client.js'
import { endpointPrices } from '../../../src/validate/cost.js'
import { actionInputs, secretInput } from '../../common/inputs.js'

/** Every default (thresholds, Railway names, timeouts) comes from this action's action.yml. */
const input = actionInputs(new URL('../action.yml', import.meta.url))

export const INPUT = {
  target: 'target',
  baseUrl: 'base-url',
  hfToken: 'hf-token',
  apiKey: 'api-key',
  spaceId: 'space-id',
  endpoint: 'endpoint',
  awakeHoursPerDay: 'awake-hours-per-day',
  models: 'models',
  ttftMsMax: 'ttft-ms-max',
  tokensPerSecondMin: 'tokens-per-second-min',
  requireGpu: 'require-gpu',
  allowPaidHardware: 'allow-paid-hardware',
  monthlyTokens: 'monthly-tokens',
  reportPath: 'report-path',
  reportOnly: 'report-only',
  timeoutMinutes: 'timeout-minutes',
  railwayToken: 'railway-token',
  railwayTokenKind: 'railway-token-kind',
  railwayProject: 'railway-project',
  railwayEnvironment: 'railway-environment',
  railwayService: 'railway-service',
  variable: 'variable',
  cognitiaHealthUrl: 'cognitia-health-url',
} as const

export interface Inputs {
  target: 'space' | 'cognitia'
  baseUrl: string
  hfToken?: string
  apiKey?: string
  spaceId?: string
  endpoint?: { namespace: string; name: string }
  awakeHoursPerDay: number
  models: string[]
  ttftMsMax: number
  tokensPerSecondMin: number
  requireGpu: boolean
  allowPaidHardware: boolean
  monthlyTokens: number
  reportPath: string
  reportOnly: boolean
  timeoutMinutes: number
  railway: {
    token: string
    tokenKind: RailwayTokenKind
    project?: string
    environment: string
    service: string
    variable: string
  }
  healthUrl?: string
}

function url(name: string, required: boolean): string | undefined {
  const value = core.getInput(name, { required }).trim().replace(/\/+$/, '')
  if (value && !/^https?:\/\/\S+$/.test(value))
    throw new ConfigurationError(`${name} must be an http(s) URL, got "${value}"`)
  return value || undefined
}

/** Reads and checks every input once; credentials are masked before anything can print them. */
export function readInputs(): Inputs {
  const hfToken = secretInput(INPUT.hfToken)
  const apiKey = secretInput(INPUT.apiKey)
  const railwayToken = secretInput(INPUT.railwayToken) ?? ''
  const target = input.choice(INPUT.target, ['space', 'cognitia'] as const)
  const tokenKind = input.choice(INPUT.railwayTokenKind, TOKEN_KINDS)
  if (target === 'cognitia' && !railwayToken)
    throw new ConfigurationError(`target cognitia needs ${INPUT.railwayToken} to read Cognitia's Railway variable`)
  const spaceId = input.optional(INPUT.spaceId)
  if (spaceId && !/^[\w.-]+\/[\w.-]+$/.test(spaceId))
    throw new ConfigurationError(`${INPUT.spaceId} must be owner/name, got "${spaceId}"`)
  const endpoint = input.optional(INPUT.endpoint)
  if (endpoint && spaceId)
    throw new ConfigurationError(
      `give ${INPUT.spaceId} (a Space) or ${INPUT.endpoint} (an Inference Endpoint), not both`,
    )
  const awake = input.optional(INPUT.awakeHoursPerDay)
  return {
    target,
    baseUrl: url(INPUT.baseUrl, true) as string,
    hfToken,
    apiKey,
    spaceId,
    endpoint: endpoint ? parseEndpointId(endpoint) : undefined,
    awakeHoursPerDay: awake
      ? input.number(INPUT.awakeHoursPerDay, { min: 0, max: 24 })
      : endpointPrices.endpoint_awake_hours_per_day,
    models: modelsOrDefaults(input.optional(INPUT.models)).map((m) => m.name),
    ttftMsMax: input.number(INPUT.ttftMsMax, { min: 1, max: 600_000 }),
    tokensPerSecondMin: input.number(INPUT.tokensPerSecondMin, { min: 0.01, max: 100_000 }),
    requireGpu: input.boolean(INPUT.requireGpu),
    allowPaidHardware: input.boolean(INPUT.allowPaidHardware),
    monthlyTokens: input.number(INPUT.monthlyTokens, { min: 1, max: 1e12 }),
    reportPath: input.required(INPUT.reportPath),
    reportOnly: input.boolean(INPUT.reportOnly),
    timeoutMinutes: input.number(INPUT.timeoutMinutes, { min: 0.01, max: 360 }),
    railway: {
      token: railwayToken,
      tokenKind,
      project: input.optional(INPUT.railwayProject),
      environment: input.required(INPUT.railwayEnvironment),
      service: input.required(INPUT.railwayService),
      variable: input.required(INPUT.variable),
    },
    healthUrl: url(INPUT.cognitiaHealthUrl, false),
  }
}
