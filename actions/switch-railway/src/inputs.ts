import { type RailwayTokenKind, TOKEN_KINDS } from '../../../src/railway/client.js'
import { MODES, type SwitchMode, type SwitchSettings } from '../../../src/railway/plans.js'
import { actionInputs, secretInput } from '../../common/inputs.js'

/** Every default (environment, services, variable names, timeouts) comes from this action's action.yml. */
const input = actionInputs(new URL('../action.yml', import.meta.url))

export const INPUT = {
  mode: 'mode',
  railwayToken: 'railway-token',
  tokenKind: 'railway-token-kind',
  project: 'railway-project',
  environment: 'railway-environment',
  service: 'railway-service',
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
  const minutes = input.number(INPUT.deploymentTimeoutMinutes, { min: 1, max: 360 })
  const pollSeconds = input.number(INPUT.pollIntervalSeconds, { min: 0, max: 300 })
  return {
    mode: input.choice(INPUT.mode, MODES),
    railwayToken,
    tokenKind: input.choice(INPUT.tokenKind, TOKEN_KINDS),
    project: input.optional(INPUT.project),
    environment: input.required(INPUT.environment),
    service: input.required(INPUT.service),
    ollamaService: input.required(INPUT.ollamaService),
    variable: input.required(INPUT.variable),
    spaceUrl: input.optional(INPUT.spaceUrl),
    hfToken,
    hfTokenVariable: input.required(INPUT.hfTokenVariable),
    restoreDefault: input.boolean(INPUT.restoreDefault),
    dryRun: input.boolean(INPUT.dryRun),
    deploymentTimeoutMs: minutes * 60_000,
    pollIntervalMs: pollSeconds * 1000,
    githubToken,
  }
}
