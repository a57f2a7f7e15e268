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
} from '../../../src/railway/plans.js'
import { booleanInput, choiceInput, numberInput, optionalInput, secretInput } from '../../common/inputs.js'

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

/** Reads and checks every input once; secrets are masked the moment they are read. */
export function readInputs(): Inputs {
  const railwayToken = secretInput(INPUT.railwayToken, { required: true }) ?? ''
  const hfToken = secretInput(INPUT.hfToken)
  const githubToken = secretInput(INPUT.githubToken)
  const minutes = numberInput(INPUT.deploymentTimeoutMinutes, 15, { min: 1, max: 360 })
  const pollSeconds = numberInput(INPUT.pollIntervalSeconds, 5, { min: 0, max: 300 })
  return {
    mode: choiceInput(INPUT.mode, MODES),
    railwayToken,
    tokenKind: choiceInput(INPUT.tokenKind, TOKEN_KINDS, 'project'),
    project: optionalInput(INPUT.project),
    environment: optionalInput(INPUT.environment) ?? DEFAULT_ENVIRONMENT,
    service: optionalInput(INPUT.service) ?? DEFAULT_SERVICE,
    ollamaService: optionalInput(INPUT.ollamaService) ?? DEFAULT_OLLAMA_SERVICE,
    variable: optionalInput(INPUT.variable) ?? DEFAULT_VARIABLE,
    spaceUrl: optionalInput(INPUT.spaceUrl),
    hfToken,
    hfTokenVariable: optionalInput(INPUT.hfTokenVariable) ?? DEFAULT_HF_TOKEN_VARIABLE,
    restoreDefault: booleanInput(INPUT.restoreDefault, false),
    dryRun: booleanInput(INPUT.dryRun, false),
    deploymentTimeoutMs: minutes * 60_000,
    pollIntervalMs: pollSeconds * 1000,
    githubToken,
  }
}
