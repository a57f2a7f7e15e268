import * as core from '@actions/core'
import { ConfigurationError } from '../../../src/errors.js'
import { type RailwayTokenKind, TOKEN_KINDS } from '../../../src/railway/client.js'
import {
  DEFAULT_ENVIRONMENT,
  DEFAULT_HF_TOKEN_VARIABLE,
  DEFAULT_OLLAMA_SERVICE,
  DEFAULT_SERVICE,
  DEFAULT_VARIABLE,
  MODES,
  type SwitchMode,
  type SwitchSettings,
} from '../../../src/railway/switch.js'

export const INPUT = {
  mode: 'mode',
  railwayToken: 'railway-token',
  tokenKind: 'token-kind',
  project: 'project',
  environment: 'environment',
  service: 'service',
  ollamaService: 'ollama-service',
  variable: 'variable',
  spaceUrl: 'space-url',
  hfToken: 'hf-token',
  hfTokenVariable: 'hf-token-variable',
  restoreDefault: 'restore-default',
  dryRun: 'dry-run',
  deploymentTimeoutMinutes: 'deployment-timeout-minutes',
  pollIntervalSeconds: 'poll-interval-seconds',
  githubToken: 'github-token',
} as const

/** The switch settings (documented on SwitchSettings) plus what the action needs around them. */
export interface Inputs extends Omit<SwitchSettings, 'onSecret'> {
  mode: SwitchMode
  railwayToken: string
  tokenKind: RailwayTokenKind
  pollIntervalMs: number
  /** Records a GitHub Deployment when given. */
  githubToken?: string
}

/** Masks a secret, and its URL-encoded form, before anything can print it. */
export function mask(secret: string): void {
  if (!secret) return
  core.setSecret(secret)
  if (encodeURIComponent(secret) !== secret) core.setSecret(encodeURIComponent(secret))
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T
  throw new ConfigurationError(`input ${name} must be one of ${allowed.join(', ')}; got "${value}"`)
}

function numberInput(name: string, fallback: string, min: number, max: number): number {
  const value = Number(core.getInput(name) || fallback)
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigurationError(`input ${name} must be a number from ${min} to ${max}`)
  }
  return value
}

/** Reads and checks every input once; secrets are masked the moment they are read. */
export function readInputs(): Inputs {
  const optional = (name: string) => core.getInput(name) || undefined
  const railwayToken = core.getInput(INPUT.railwayToken, { required: true })
  mask(railwayToken)
  const hfToken = optional(INPUT.hfToken)
  if (hfToken) mask(hfToken)
  const githubToken = optional(INPUT.githubToken)
  if (githubToken) mask(githubToken)
  const minutes = numberInput(INPUT.deploymentTimeoutMinutes, '15', 1, 360)
  const pollSeconds = numberInput(INPUT.pollIntervalSeconds, '5', 0, 300)
  return {
    mode: oneOf(INPUT.mode, core.getInput(INPUT.mode, { required: true }), MODES),
    railwayToken,
    tokenKind: oneOf(INPUT.tokenKind, core.getInput(INPUT.tokenKind) || 'project', TOKEN_KINDS),
    project: optional(INPUT.project),
    environment: core.getInput(INPUT.environment) || DEFAULT_ENVIRONMENT,
    service: core.getInput(INPUT.service) || DEFAULT_SERVICE,
    ollamaService: core.getInput(INPUT.ollamaService) || DEFAULT_OLLAMA_SERVICE,
    variable: core.getInput(INPUT.variable) || DEFAULT_VARIABLE,
    spaceUrl: optional(INPUT.spaceUrl),
    hfToken,
    hfTokenVariable: core.getInput(INPUT.hfTokenVariable) || DEFAULT_HF_TOKEN_VARIABLE,
    restoreDefault: core.getBooleanInput(INPUT.restoreDefault),
    dryRun: core.getBooleanInput(INPUT.dryRun),
    deploymentTimeoutMs: minutes * 60_000,
    pollIntervalMs: pollSeconds * 1000,
    githubToken,
  }
}
