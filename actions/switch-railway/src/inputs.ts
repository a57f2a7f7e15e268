import { readInputDefaults } from '../../../src/action-yml.js'
import { type RailwayTokenKind, TOKEN_KINDS } from '../../../src/railway/client.js'
import { MODES, type SwitchMode, type SwitchSettings } from '../../../src/railway/plans.js'
import {
  booleanInput,
  choiceInput,
  defaultedInput,
  numberInput,
  optionalInput,
  secretInput,
} from '../../common/inputs.js'

/** action.yml holds the defaults (environment, services, variable names); read them, never restate them. */
const DEFAULTS = readInputDefaults(new URL('../action.yml', import.meta.url))

export const INPUT = {
  mode: 'mode',
  railwayToken: 'railway-token',
  tokenKind: 'railway-token-kind',
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
    tokenKind: choiceInput(INPUT.tokenKind, TOKEN_KINDS, defaultedInput(INPUT.tokenKind, DEFAULTS) as RailwayTokenKind),
    project: optionalInput(INPUT.project),
    environment: defaultedInput(INPUT.environment, DEFAULTS),
    service: defaultedInput(INPUT.service, DEFAULTS),
    ollamaService: defaultedInput(INPUT.ollamaService, DEFAULTS),
    variable: defaultedInput(INPUT.variable, DEFAULTS),
    spaceUrl: optionalInput(INPUT.spaceUrl),
    hfToken,
    hfTokenVariable: defaultedInput(INPUT.hfTokenVariable, DEFAULTS),
    restoreDefault: booleanInput(INPUT.restoreDefault, false),
    dryRun: booleanInput(INPUT.dryRun, false),
    deploymentTimeoutMs: minutes * 60_000,
    pollIntervalMs: pollSeconds * 1000,
    githubToken,
  }
}
