/**
 * The four things the pipeline does to Railway, as plain functions over RailwayClient:
 * switch Cognitia to the Space, roll it back, stop the old Ollama service, start it again.
 *
 * Invariant: at every failure point Cognitia's variable holds either its old value or the new
 * one, and the old value can be restored. It holds because the new URL and the record of the old
 * one travel in ONE upsert (Railway applies an upsert whole), nothing is deleted, and every write
 * whose answer is lost is read back before the run decides what happened.
 */
import { ConfigurationError, errorMessage, ServiceError } from '../errors.js'
import type { Logger } from '../logger.js'
import { variableSecrets } from '../secrets.js'
import { isInProgress, type RailwayClient, type RailwayTarget } from './client.js'
import type { DeploymentSummary } from './documents.js'

export const MODES = ['switch', 'rollback', 'decommission', 'reactivate'] as const
export type SwitchMode = (typeof MODES)[number]

/** What Cognitia used before the move: the CPU Ollama service on Railway's private network. */
export const DEFAULT_ROLLBACK_URL = 'http://ollama.railway.internal:11434'
export const DEFAULT_VARIABLE = 'OLLAMA_BASE_URL'
export const DEFAULT_HF_TOKEN_VARIABLE = 'OLLAMA_HF_TOKEN'
export const DEFAULT_ENVIRONMENT = 'production'
export const DEFAULT_SERVICE = 'cognitia'
export const DEFAULT_OLLAMA_SERVICE = 'ollama'

/** `OLLAMA_BASE_URL` → `ZEROLLAMA_PREVIOUS_OLLAMA_BASE_URL`: where switch records the value it replaced. */
export function previousVariableName(variable: string): string {
  return `ZEROLLAMA_PREVIOUS_${variable}`
}

export interface SwitchSettings {
  /** Name or id; optional with a project token (it knows its project). */
  project?: string
  environment: string
  /** The app whose variable changes (Cognitia). */
  service: string
  /** The old CPU Ollama service. */
  ollamaService: string
  variable: string
  /** switch only: the Space's API base URL. */
  spaceUrl?: string
  /** switch only, for a private Space: written next to the URL so Cognitia can authenticate. */
  hfToken?: string
  hfTokenVariable: string
  dryRun: boolean
  deploymentTimeoutMs: number
  /** rollback only: restore DEFAULT_ROLLBACK_URL when no usable record exists (otherwise the run stops). */
  restoreDefault?: boolean
  /** Receives every value read back that may be a secret, before anything can print it. */
  onSecret?: (value: string) => void
}

export interface ModeResult {
  mode: SwitchMode
  dryRun: boolean
  /** Whether Railway was changed by this run. */
  changed: boolean
  /** What the run did or, in a dry run, would do ("OLLAMA_BASE_URL: old → new"). */
  plan: string[]
  before: { url?: string; ollamaRunning?: boolean }
  after: { url?: string; ollamaRunning?: boolean }
  recordedPreviousUrl?: string
  /** The deployment this run started or waited for. */
  deploymentId?: string
}

export interface SwitchPlan {
  /** Variables to write in the one upsert; empty when everything already holds. */
  upsert: Record<string, string>
  before?: string
  after: string
  recordedPrevious?: string
  lines: string[]
}

/**
 * Decides the switch upsert from the variables as they are. The record always holds the value this
 * switch replaces, so a rollback restores exactly that. A re-run (the variable already holds the
 * Space URL) or a move from one Space to another keeps the record: a Space is never recorded as the
 * backend to go back to.
 */
export function planSwitch(variables: Record<string, string>, settings: SwitchSettings): SwitchPlan {
  const spaceUrl = requireSpaceUrl(settings)
  const previousName = previousVariableName(settings.variable)
  const current = variables[settings.variable]
  const recorded = variables[previousName]
  const record = recordAfterSwitch(current, recorded, spaceUrl)
  const upsert: Record<string, string> = {}
  const lines: string[] = []
  if (current !== spaceUrl) upsert[settings.variable] = spaceUrl
  lines.push(
    current === spaceUrl
      ? `${settings.variable}: already ${displayUrl(spaceUrl)}`
      : `${settings.variable}: ${displayUrl(current)} → ${displayUrl(spaceUrl)}`,
  )
  if (record !== undefined && record !== recorded) {
    upsert[previousName] = record
    lines.push(`${previousName}: ${displayUrl(recorded)} → ${displayUrl(record)}`)
  } else if (record) {
    lines.push(`${previousName}: kept ${displayUrl(record)}`)
  } else {
    lines.push(`${previousName}: nothing to record; a rollback will need restore-default (${DEFAULT_ROLLBACK_URL})`)
  }
  if (settings.hfToken && variables[settings.hfTokenVariable] !== settings.hfToken) {
    upsert[settings.hfTokenVariable] = settings.hfToken
    lines.push(`${settings.hfTokenVariable}: set (value masked)`)
  }
  return { upsert, before: current, after: spaceUrl, recordedPrevious: record || undefined, lines }
}

/**
 * What the record must hold once the variable points at the Space: the value being replaced; the
 * current record when the replaced value is itself a Space; empty when the variable was unset, so
 * that an older record can never be restored by mistake.
 */
function recordAfterSwitch(current: string | undefined, recorded: string | undefined, spaceUrl: string) {
  if (current === undefined) return recorded === undefined ? undefined : ''
  return isSpaceUrl(current, spaceUrl) ? recorded : current
}

/** A Hugging Face Space URL (`https://<owner>-<name>.hf.space`), or the Space URL this run was given. */
export function isSpaceUrl(url: string, spaceUrl?: string): boolean {
  const bare = (u: string) => u.trim().replace(/\/+$/, '')
  if (spaceUrl && bare(url) === bare(spaceUrl)) return true
  try {
    return new URL(url).hostname.endsWith('.hf.space')
  } catch {
    return false
  }
}

export interface RollbackPlan {
  /** The value the variable holds after the rollback. */
  restore: string
  /** The line of the printed plan that explains it. */
  line: string
}

/**
 * Decides what a rollback restores. Only a Cognitia on a Space is rolled back: otherwise there is
 * nothing to undo and the variable stays (a stale record must not overwrite a newer backend). On a
 * Space, the record is restored; when it is missing or is a Space URL itself, the run stops unless
 * the operator asked for the documented default.
 */
export function planRollback(variables: Record<string, string>, settings: SwitchSettings): RollbackPlan {
  const name = settings.variable
  const previousName = previousVariableName(name)
  const current = variables[name]
  const recorded = variables[previousName]
  if (current !== undefined && !isSpaceUrl(current, settings.spaceUrl)) {
    const why = current === recorded ? 'the recorded value' : 'not on a Space; nothing to roll back'
    return { restore: current, line: `${name}: already ${displayUrl(current)} (${why})` }
  }
  const usable = recorded && !isSpaceUrl(recorded, settings.spaceUrl) ? recorded : undefined
  const restore = usable ?? (settings.restoreDefault ? DEFAULT_ROLLBACK_URL : undefined)
  if (restore === undefined) {
    const problem = recorded
      ? `${previousName} holds ${displayUrl(recorded)}, which looks wrong (a Space URL, not the backend switch replaced)`
      : `there is no record of the value switch replaced (${previousName} is unset)`
    throw new ConfigurationError(
      `${problem}; ${name} stays ${displayUrl(current)}. Set ${name} in Railway by hand, or re-run with restore-default: true to restore the documented default ${DEFAULT_ROLLBACK_URL}`,
    )
  }
  const source = usable ? `recorded in ${previousName}` : 'the documented default (restore-default)'
  return { restore, line: `${name}: ${displayUrl(current)} → ${displayUrl(restore)} (${source})` }
}

/** mode=switch: one upsert (skipDeploys), one deploy, poll it to SUCCESS. */
export async function switchToSpace(client: RailwayClient, settings: SwitchSettings, logger: Logger) {
  const spaceUrl = requireSpaceUrl(settings)
  const { target, serviceId, variables } = await logger.group('Read Railway state', () =>
    readCurrent(client, settings, 'none'),
  )
  const plan = planSwitch(variables, settings)
  const result = startResult('switch', settings, plan.lines, { url: plan.before })
  result.recordedPreviousUrl = plan.recordedPrevious
  announce(plan.lines, settings, target, logger)
  if (settings.dryRun) return result

  const rollbackHint = `run mode=rollback to restore ${displayUrl(plan.recordedPrevious ?? DEFAULT_ROLLBACK_URL)}`
  const wrote = await writeVariables(client, target, serviceId, plan.upsert, variables, settings, logger)
  result.changed = wrote
  result.after = { url: spaceUrl }
  const deployment = await deployWithChange(client, target, settings.service, settings, logger, {
    changedNow: wrote,
    failureHint: `Cognitia keeps its previous deployment running; ${settings.variable} already holds the Space URL, so re-run the switch once Railway is healthy, or ${rollbackHint}`,
  })
  result.deploymentId = deployment.id
  result.changed ||= deployment.started
  return result
}

/** mode=rollback: restore exactly the recorded value, start the old Ollama service, redeploy Cognitia. */
export async function rollback(client: RailwayClient, settings: SwitchSettings, logger: Logger) {
  const { target, serviceId, variables, ollama } = await logger.group('Read Railway state', () =>
    readCurrent(client, settings, 'required'),
  )
  const current = variables[settings.variable]
  const { restore, line } = planRollback(variables, settings)
  const ollamaRunning = (ollama?.activeDeployments.length ?? 0) > 0
  const lines = [
    line,
    ollamaRunning ? `${settings.ollamaService}: already running` : `${settings.ollamaService}: stopped → deploy it`,
    `${settings.service}: deploy with the restored value`,
  ]
  const result = startResult('rollback', settings, lines, { url: current, ollamaRunning })
  result.recordedPreviousUrl = restore
  announce(lines, settings, target, logger)
  if (settings.dryRun) return result

  const upsert = current === restore ? {} : { [settings.variable]: restore }
  const wrote = await writeVariables(client, target, serviceId, upsert, variables, settings, logger)
  result.changed = wrote
  result.after = { url: restore, ollamaRunning }
  const hint = `${settings.variable} already holds ${displayUrl(restore)}; re-run mode=rollback (it is idempotent)`
  if (!ollamaRunning) {
    await startService(client, target, settings.ollamaService, settings, logger, hint)
    result.after.ollamaRunning = true
    result.changed = true
  }
  const deployment = await deployWithChange(client, target, settings.service, settings, logger, {
    changedNow: wrote,
    failureHint: hint,
  })
  result.deploymentId = deployment.id
  result.changed ||= deployment.started
  return result
}

/** mode=decommission: stop the old Ollama service's running deployment; never delete a service or volume. */
export async function decommission(client: RailwayClient, settings: SwitchSettings, logger: Logger) {
  const { target, variables, ollama } = await logger.group('Read Railway state', () =>
    readCurrent(client, settings, 'required'),
  )
  const current = variables[settings.variable]
  const oldUrl = variables[previousVariableName(settings.variable)] ?? DEFAULT_ROLLBACK_URL
  if (current === undefined || current === oldUrl || current.includes(`//${settings.ollamaService}.railway.internal`)) {
    throw new ConfigurationError(
      `${settings.service}'s ${settings.variable} still points at ${displayUrl(current)} (the old Ollama service); run mode=switch first — stopping it now would cut ${settings.service} off`,
    )
  }
  const running = ollama?.activeDeployments ?? []
  const lines =
    running.length === 0
      ? [`${settings.ollamaService}: already stopped`]
      : running.map((d) => `${settings.ollamaService}: stop deployment ${d.id} (undo: mode=reactivate)`)
  const result = startResult('decommission', settings, lines, { url: current, ollamaRunning: running.length > 0 })
  announce(lines, settings, target, logger)
  if (settings.dryRun) return result

  const ollamaId = serviceIdOf(target, settings.ollamaService)
  await logger.group(`Stop ${settings.ollamaService}`, async () => {
    for (const deployment of running) {
      await stopDeployment(client, target, ollamaId, deployment.id, logger)
      result.changed = true
    }
  })
  result.after = { url: current, ollamaRunning: false }
  return result
}

/** mode=reactivate: deploy the old Ollama service again when nothing of it runs. */
export async function reactivate(client: RailwayClient, settings: SwitchSettings, logger: Logger) {
  const { target, variables, ollama } = await logger.group('Read Railway state', () =>
    readCurrent(client, settings, 'required'),
  )
  const running = (ollama?.activeDeployments.length ?? 0) > 0
  const lines = [running ? `${settings.ollamaService}: already running` : `${settings.ollamaService}: deploy it`]
  const url = variables[settings.variable]
  const result = startResult('reactivate', settings, lines, { url, ollamaRunning: running })
  announce(lines, settings, target, logger)
  if (settings.dryRun || running) return result

  const hint = 're-run mode=reactivate; the service and its volume were never deleted'
  result.deploymentId = await startService(client, target, settings.ollamaService, settings, logger, hint)
  result.changed = true
  result.after = { url, ollamaRunning: true }
  return result
}

export function runMode(
  mode: SwitchMode,
  client: RailwayClient,
  settings: SwitchSettings,
  logger: Logger,
): Promise<ModeResult> {
  const modes = { switch: switchToSpace, rollback, decommission, reactivate }
  return modes[mode](client, settings, logger)
}

export interface RailwayStatus {
  projectName: string
  environmentName: string
  /** Cognitia's variable as written (unrendered); undefined when it does not exist. */
  currentUrl?: string
  /** What switch recorded; undefined before the first switch. */
  recordedPreviousUrl?: string
  /** What a rollback would leave in the variable; undefined when it would stop (see rollbackProblem). */
  rollbackUrl?: string
  /** Why a rollback without restore-default would stop; undefined when it would not. */
  rollbackProblem?: string
  /** Whether the old Ollama service has a running deployment; undefined when there is no such service. */
  ollamaRunning?: boolean
}

/** Read-only view for validate and the CLI: where Cognitia points now and what a rollback would restore. */
export async function readRailwayStatus(
  client: RailwayClient,
  ref: { project?: string; environment?: string; service?: string; ollamaService?: string; variable?: string },
  onSecret?: (value: string) => void,
): Promise<RailwayStatus> {
  const settings: SwitchSettings = {
    project: ref.project,
    environment: ref.environment ?? DEFAULT_ENVIRONMENT,
    service: ref.service ?? DEFAULT_SERVICE,
    ollamaService: ref.ollamaService ?? DEFAULT_OLLAMA_SERVICE,
    variable: ref.variable ?? DEFAULT_VARIABLE,
    hfTokenVariable: DEFAULT_HF_TOKEN_VARIABLE,
    dryRun: true,
    deploymentTimeoutMs: 0,
    onSecret,
  }
  const { target, variables, ollama } = await readCurrent(client, settings, 'optional')
  const recorded = variables[previousVariableName(settings.variable)]
  return {
    projectName: target.projectName,
    environmentName: target.environmentName,
    currentUrl: variables[settings.variable],
    recordedPreviousUrl: recorded,
    ...rollbackOutlook(variables, settings),
    ollamaRunning: ollama ? ollama.activeDeployments.length > 0 : undefined,
  }
}

function rollbackOutlook(variables: Record<string, string>, settings: SwitchSettings) {
  try {
    return { rollbackUrl: planRollback(variables, settings).restore }
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error
    return { rollbackUrl: undefined, rollbackProblem: error.message }
  }
}

/** Hides a password in a URL's userinfo (`https://user:***@host`); other URLs are shown as they are. */
export function displayUrl(url: string | undefined): string {
  if (url === undefined) return '(unset)'
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*:)[^/@]*@/i, '$1***@')
}

function requireSpaceUrl(settings: SwitchSettings): string {
  const url = settings.spaceUrl?.trim()
  if (!url)
    throw new ConfigurationError('mode=switch needs space-url (the Space API base, https://<owner>-<name>.hf.space)')
  if (!/^https?:\/\/[^\s]+$/.test(url)) throw new ConfigurationError(`space-url must be an http(s) URL, got "${url}"`)
  return url.replace(/\/+$/, '')
}

function startResult(
  mode: SwitchMode,
  settings: SwitchSettings,
  plan: string[],
  before: ModeResult['before'],
): ModeResult {
  return { mode, dryRun: settings.dryRun, changed: false, plan, before, after: { ...before } }
}

function announce(lines: string[], settings: SwitchSettings, target: RailwayTarget, logger: Logger): void {
  const where = `${settings.service} in ${target.projectName} / ${target.environmentName}`
  const heading = settings.dryRun ? `Plan for ${where} (dry run, nothing will change):` : `Plan for ${where}:`
  logger.info([heading, ...lines.map((l) => `  ${l}`)].join('\n'))
}

function serviceIdOf(target: RailwayTarget, name: string): string {
  const id = target.services[name]
  if (!id) throw new ConfigurationError(`service "${name}" was not resolved`)
  return id
}

/** Resolves the target, reads Cognitia's variables (masking those that look secret) and, if asked, the old Ollama service. */
async function readCurrent(
  client: RailwayClient,
  settings: SwitchSettings,
  ollamaService: 'required' | 'optional' | 'none',
) {
  const target = await client.resolveTarget({
    project: settings.project,
    environment: settings.environment,
    services: ollamaService === 'required' ? [settings.service, settings.ollamaService] : [settings.service],
    optionalServices: ollamaService === 'optional' ? [settings.ollamaService] : [],
  })
  const serviceId = serviceIdOf(target, settings.service)
  const variables = await client.serviceVariables(target, serviceId)
  maskVariables(variables, settings)
  const ollamaId = target.services[settings.ollamaService]
  const ollama =
    ollamaService !== 'none' && ollamaId ? await client.serviceInstance(target.environmentId, ollamaId) : undefined
  return { target, serviceId, variables, ollama }
}

/**
 * Masks what looks like a credential (see variableSecrets) and the HF token switch writes, whatever
 * its variable is called. Plain values stay readable: masking `NODE_ENV=production` would turn every
 * later "production" in the log into `***`.
 */
function maskVariables(variables: Record<string, string>, settings: SwitchSettings): void {
  if (!settings.onSecret) return
  for (const [name, value] of Object.entries(variables)) {
    const secrets = name === settings.hfTokenVariable && value ? [value] : variableSecrets(name, value)
    for (const secret of secrets) settings.onSecret(secret)
  }
}

/**
 * Writes the changes in one upsert. When the answer is lost, reads back: all applied → carry on;
 * nothing applied → say so; unreadable → say the variable is old or new and how to restore it.
 * Returns whether anything was written.
 */
async function writeVariables(
  client: RailwayClient,
  target: RailwayTarget,
  serviceId: string,
  changes: Record<string, string>,
  before: Record<string, string>,
  settings: SwitchSettings,
  logger: Logger,
): Promise<boolean> {
  const names = Object.keys(changes)
  if (names.length === 0) {
    logger.info('variables already hold the wanted values; nothing to write')
    return false
  }
  return logger.group(`Write ${names.join(', ')}`, async () => {
    try {
      await client.upsertVariables(target, serviceId, changes)
      logger.info(`upserted ${names.join(', ')} on ${settings.service} (skipDeploys)`)
      return true
    } catch (error) {
      if (error instanceof ConfigurationError) throw error
      logger.warning(`the variable upsert failed (${errorMessage(error)}); reading the variables back`)
      let now: Record<string, string>
      try {
        now = await client.serviceVariables(target, serviceId)
        maskVariables(now, settings)
      } catch (readError) {
        throw new ServiceError(
          'Railway',
          `could not tell whether the variable upsert applied (${errorMessage(readError)})`,
          {
            nextStep: `${settings.variable} holds either ${displayUrl(before[settings.variable])} or ${displayUrl(changes[settings.variable] ?? before[settings.variable])} (an upsert applies whole); re-run this job once Railway answers`,
          },
        )
      }
      if (names.every((n) => now[n] === changes[n])) {
        logger.info('the upsert had applied before its answer was lost')
        return true
      }
      throw new ServiceError('Railway', `the variable upsert did not apply (${errorMessage(error)})`, {
        nextStep: `nothing changed: ${settings.variable} is still ${displayUrl(now[settings.variable])}; re-run this job`,
      })
    }
  })
}

/**
 * Makes sure the service runs a deployment that carries the variables: deploys when they changed
 * now, or when no deployment newer than the variable's last change is running or on its way
 * (a previous run may have written the variable and died before deploying). Then polls to SUCCESS.
 */
async function deployWithChange(
  client: RailwayClient,
  target: RailwayTarget,
  service: string,
  settings: SwitchSettings,
  logger: Logger,
  options: { changedNow: boolean; failureHint: string },
): Promise<{ id: string; started: boolean }> {
  const serviceId = serviceIdOf(target, service)
  return logger.group(`Deploy ${service}`, async () => {
    const { latestDeployment } = await client.serviceInstance(target.environmentId, serviceId)
    let deploymentId: string | undefined
    if (!options.changedNow && latestDeployment && isUsable(latestDeployment)) {
      const changedAt = await client.variableUpdatedAt(target.environmentId, serviceId, settings.variable)
      if (!changedAt || Date.parse(latestDeployment.createdAt) >= Date.parse(changedAt)) {
        logger.info(`deployment ${latestDeployment.id} already carries the variables (${latestDeployment.status})`)
        deploymentId = latestDeployment.id
      }
    }
    const started = deploymentId === undefined
    deploymentId ??= await startDeployment(client, target, serviceId, service, latestDeployment?.id, logger, options)
    await waitForSuccess(client, deploymentId, service, settings, options.failureHint)
    return { id: deploymentId, started }
  })
}

/** Deploys a stopped service (the old Ollama) and waits for SUCCESS; returns the deployment id. */
async function startService(
  client: RailwayClient,
  target: RailwayTarget,
  service: string,
  settings: SwitchSettings,
  logger: Logger,
  failureHint: string,
): Promise<string> {
  const serviceId = serviceIdOf(target, service)
  return logger.group(`Start ${service}`, async () => {
    const { latestDeployment } = await client.serviceInstance(target.environmentId, serviceId)
    const id =
      latestDeployment && isInProgress(latestDeployment.status)
        ? latestDeployment.id
        : await startDeployment(client, target, serviceId, service, latestDeployment?.id, logger, { failureHint })
    await waitForSuccess(client, id, service, settings, failureHint)
    return id
  })
}

function isUsable(deployment: DeploymentSummary): boolean {
  return deployment.status === 'SUCCESS' || isInProgress(deployment.status)
}

/** One serviceInstanceDeployV2; a lost answer is resolved by looking for a deployment newer than `previousId`. */
async function startDeployment(
  client: RailwayClient,
  target: RailwayTarget,
  serviceId: string,
  service: string,
  previousId: string | undefined,
  logger: Logger,
  options: { failureHint: string },
): Promise<string> {
  try {
    const id = await client.deploy(target.environmentId, serviceId)
    logger.info(`started deployment ${id} of ${service}`)
    return id
  } catch (error) {
    if (error instanceof ConfigurationError) throw error
    logger.warning(`starting a deployment of ${service} failed (${errorMessage(error)}); looking for it`)
    let latest: DeploymentSummary | null
    try {
      latest = (await client.serviceInstance(target.environmentId, serviceId)).latestDeployment
    } catch (readError) {
      throw new ServiceError(
        'Railway',
        `could not tell whether ${service} started deploying (${errorMessage(readError)})`,
        {
          nextStep: options.failureHint,
        },
      )
    }
    if (latest && latest.id !== previousId) {
      logger.info(`the deployment had started: ${latest.id}`)
      return latest.id
    }
    throw new ServiceError('Railway', `could not start a deployment of ${service} (${errorMessage(error)})`, {
      nextStep: options.failureHint,
    })
  }
}

async function waitForSuccess(
  client: RailwayClient,
  id: string,
  service: string,
  settings: SwitchSettings,
  failureHint: string,
): Promise<void> {
  let final: DeploymentSummary
  try {
    final = await client.waitForDeployment(id, settings.deploymentTimeoutMs)
  } catch (error) {
    if (error instanceof ConfigurationError) throw error
    throw new ServiceError('Railway', `deployment ${id} of ${service} did not finish: ${errorMessage(error)}`, {
      nextStep: `look at the deployment in the Railway dashboard; ${failureHint}`,
    })
  }
  if (final.status !== 'SUCCESS') {
    throw new ServiceError('Railway', `deployment ${id} of ${service} ended ${final.status}`, {
      nextStep: `read its build/deploy logs in the Railway dashboard; ${failureHint}`,
    })
  }
}

/** deploymentRemove once; a lost answer is resolved by checking whether the deployment is still running. */
async function stopDeployment(
  client: RailwayClient,
  target: RailwayTarget,
  serviceId: string,
  deploymentId: string,
  logger: Logger,
): Promise<void> {
  const hint = 're-run mode=decommission (it only stops what still runs); mode=reactivate starts the service again'
  try {
    await client.removeDeployment(deploymentId)
    logger.info(`stopped deployment ${deploymentId}`)
  } catch (error) {
    if (error instanceof ConfigurationError) throw error
    logger.warning(`stopping deployment ${deploymentId} failed (${errorMessage(error)}); checking whether it stopped`)
    let active: DeploymentSummary[]
    try {
      active = (await client.serviceInstance(target.environmentId, serviceId)).activeDeployments
    } catch (readError) {
      throw new ServiceError(
        'Railway',
        `could not tell whether deployment ${deploymentId} stopped (${errorMessage(readError)})`,
        {
          nextStep: hint,
        },
      )
    }
    if (active.some((d) => d.id === deploymentId)) {
      throw new ServiceError('Railway', `deployment ${deploymentId} is still running (${errorMessage(error)})`, {
        nextStep: hint,
      })
    }
    logger.info(`deployment ${deploymentId} had stopped before the answer was lost`)
  }
}
