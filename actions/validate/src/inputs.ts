import * as core from '@actions/core'
import { readInputDefaults } from '../../../src/action-yml.js'
import { modelsOrDefaults } from '../../../src/catalog.js'
import { ConfigurationError } from '../../../src/errors.js'
import { defaultedInput, secretInput } from '../../common/inputs.js'

/** action.yml holds the defaults (Railway names); read them, never restate them. */
const DEFAULTS = readInputDefaults(new URL('../action.yml', import.meta.url))

export const INPUT = {
  target: 'target',
  baseUrl: 'base-url',
  hfToken: 'hf-token',
  apiKey: 'api-key',
  spaceId: 'space-id',
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
    tokenKind: 'project' | 'workspace' | 'account'
    project?: string
    environment: string
    service: string
    variable: string
  }
  healthUrl?: string
}

function positive(name: string, fallback: string): number {
  const value = Number(core.getInput(name) || fallback)
  if (!(value > 0)) throw new ConfigurationError(`${name} must be a positive number, got "${core.getInput(name)}"`)
  return value
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
  const target = core.getInput(INPUT.target) || 'space'
  if (target !== 'space' && target !== 'cognitia')
    throw new ConfigurationError(`${INPUT.target} must be space or cognitia, got "${target}"`)
  const tokenKind = defaultedInput(INPUT.railwayTokenKind, DEFAULTS)
  if (tokenKind !== 'project' && tokenKind !== 'workspace' && tokenKind !== 'account')
    throw new ConfigurationError(`${INPUT.railwayTokenKind} must be project, workspace or account`)
  if (target === 'cognitia' && !railwayToken)
    throw new ConfigurationError(`target cognitia needs ${INPUT.railwayToken} to read Cognitia's Railway variable`)
  const spaceId = core.getInput(INPUT.spaceId) || undefined
  if (spaceId && !/^[\w.-]+\/[\w.-]+$/.test(spaceId))
    throw new ConfigurationError(`${INPUT.spaceId} must be owner/name, got "${spaceId}"`)
  return {
    target,
    baseUrl: url(INPUT.baseUrl, true) as string,
    hfToken,
    apiKey,
    spaceId,
    models: modelsOrDefaults(core.getInput(INPUT.models)).map((m) => m.name),
    ttftMsMax: positive(INPUT.ttftMsMax, '1000'),
    tokensPerSecondMin: positive(INPUT.tokensPerSecondMin, '50'),
    requireGpu: core.getBooleanInput(INPUT.requireGpu),
    allowPaidHardware: core.getBooleanInput(INPUT.allowPaidHardware),
    monthlyTokens: positive(INPUT.monthlyTokens, '1000000'),
    reportPath: core.getInput(INPUT.reportPath) || 'zerollama-validate-report.json',
    reportOnly: core.getBooleanInput(INPUT.reportOnly),
    timeoutMinutes: positive(INPUT.timeoutMinutes, '15'),
    railway: {
      token: railwayToken,
      tokenKind,
      project: core.getInput(INPUT.railwayProject) || undefined,
      environment: defaultedInput(INPUT.railwayEnvironment, DEFAULTS),
      service: defaultedInput(INPUT.railwayService, DEFAULTS),
      variable: defaultedInput(INPUT.variable, DEFAULTS),
    },
    healthUrl: url(INPUT.cognitiaHealthUrl, false),
  }
}
