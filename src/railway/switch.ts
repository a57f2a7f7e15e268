/**
 * The four things the pipeline does to Railway, applied over RailwayClient: switch Cognitia to the
 * Space, roll it back, stop the old Ollama service, start it again. What each one changes is decided
 * by the pure plans of ./plans.ts; this file reads the state, prints the plan and carries it out.
 *
 * Invariant: at every failure point Cognitia's variable holds either its old value or the new
 * one, and the old value can be restored. It holds because the new URL and the record of the old
 * one travel in ONE upsert (Railway applies an upsert whole), nothing is deleted, and every write
 * goes through writeOnce: a write whose answer is lost is read back before the run decides.
 */
import { ConfigurationError, errorMessage, ServiceError } from '../errors.js'
import type { Logger } from '../logger.js'
import { writeOnce } from '../retry.js'
import { variableSecrets } from '../secrets.js'
import { isInProgress, type RailwayClient, type RailwayTarget } from './client.js'
import type { DeploymentSummary } from './documents.js'
import {
  DEFAULT_ROLLBACK_URL,
  displayUrl,
  ollamaLine,
  planDecommission,
  planRollback,
  planSwitch,
  previousVariableName,
  type RailwayRef,
  requireSpaceUrl,
  type SwitchMode,
  type SwitchSettings,
} from './plans.js'

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

/** One run of a mode: who to ask, where, with which settings, and where to say what happens. */
interface Run {
  client: RailwayClient
  target: RailwayTarget
  settings: SwitchSettings
  logger: Logger
}

/** mode=switch: one upsert (skipDeploys), one deploy, poll it to SUCCESS. */
export async function switchToSpace(client: RailwayClient, settings: SwitchSettings, logger: Logger) {
  const spaceUrl = requireSpaceUrl(settings)
  const { target, serviceId, variables } = await readState(client, settings, logger, 'none')
  const plan = planSwitch(variables, settings)
  const result = startResult('switch', settings, plan.lines, { url: plan.before })
  result.recordedPreviousUrl = plan.recordedPrevious
  const run: Run = { client, target, settings, logger }
  announce(run, plan.lines)
  if (settings.dryRun) return result

  const rollbackHint = `run mode=rollback to restore ${displayUrl(plan.recordedPrevious ?? DEFAULT_ROLLBACK_URL)}`
  const wrote = await writeVariables(run, { serviceId, changes: plan.upsert, before: variables })
  result.changed = wrote
  result.after = { url: spaceUrl }
  const deployment = await deployWithChange(run, {
    service: settings.service,
    changedNow: wrote,
    failureHint: `Cognitia keeps its previous deployment running; ${settings.variable} already holds the Space URL, so re-run the switch once Railway is healthy, or ${rollbackHint}`,
  })
  result.deploymentId = deployment.id
  result.changed ||= deployment.started
  return result
}

/** mode=rollback: restore exactly the recorded value, start the old Ollama service, redeploy Cognitia. */
export async function rollback(client: RailwayClient, settings: SwitchSettings, logger: Logger) {
  const { target, serviceId, variables, ollama } = await readState(client, settings, logger, 'required')
  const plan = planRollback(variables, settings)
  const restore = plan.after as string
  const ollamaRunning = (ollama?.activeDeployments.length ?? 0) > 0
  const lines = [
    ...plan.lines,
    ollamaLine(settings.ollamaService, ollamaRunning),
    `${settings.service}: deploy with the restored value`,
  ]
  const result = startResult('rollback', settings, lines, { url: plan.before, ollamaRunning })
  result.recordedPreviousUrl = restore
  const run: Run = { client, target, settings, logger }
  announce(run, lines)
  if (settings.dryRun) return result

  const wrote = await writeVariables(run, { serviceId, changes: plan.upsert, before: variables })
  result.changed = wrote
  result.after = { url: restore, ollamaRunning }
  const failureHint = `${settings.variable} already holds ${displayUrl(restore)}; re-run mode=rollback (it is idempotent)`
  if (!ollamaRunning) {
    await startService(run, { service: settings.ollamaService, failureHint })
    result.after.ollamaRunning = true
    result.changed = true
  }
  const deployment = await deployWithChange(run, { service: settings.service, changedNow: wrote, failureHint })
  result.deploymentId = deployment.id
  result.changed ||= deployment.started
  return result
}

/** mode=decommission: stop the old Ollama service's running deployment; never delete a service or volume. */
export async function decommission(client: RailwayClient, settings: SwitchSettings, logger: Logger) {
  const { target, variables, ollama } = await readState(client, settings, logger, 'required')
  const running = ollama?.activeDeployments ?? []
  const plan = planDecommission(variables, running, settings)
  const url = variables[settings.variable]
  const result = startResult('decommission', settings, plan.lines, { url, ollamaRunning: running.length > 0 })
  const run: Run = { client, target, settings, logger }
  announce(run, plan.lines)
  if (settings.dryRun) return result

  const serviceId = serviceIdOf(target, settings.ollamaService)
  await logger.group(`Stop ${settings.ollamaService}`, async () => {
    for (const deploymentId of plan.stop) {
      await stopDeployment(run, { serviceId, deploymentId })
      result.changed = true
    }
  })
  result.after = { url, ollamaRunning: false }
  return result
}

/** mode=reactivate: deploy the old Ollama service again when nothing of it runs. */
export async function reactivate(client: RailwayClient, settings: SwitchSettings, logger: Logger) {
  const { target, variables, ollama } = await readState(client, settings, logger, 'required')
  const running = (ollama?.activeDeployments.length ?? 0) > 0
  const lines = [running ? ollamaLine(settings.ollamaService, true) : `${settings.ollamaService}: deploy it`]
  const url = variables[settings.variable]
  const result = startResult('reactivate', settings, lines, { url, ollamaRunning: running })
  const run: Run = { client, target, settings, logger }
  announce(run, lines)
  if (settings.dryRun || running) return result

  const failureHint = 're-run mode=reactivate; the service and its volume were never deleted'
  result.deploymentId = await startService(run, { service: settings.ollamaService, failureHint })
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

/** What readRailwayStatus needs: a RailwayRef whose old Ollama service may be left out (validate has none). */
export type StatusRef = Omit<RailwayRef, 'ollamaService'> & { ollamaService?: string }

/** Read-only view for validate and the CLI: where Cognitia points now and what a rollback would restore. */
export async function readRailwayStatus(client: RailwayClient, ref: StatusRef): Promise<RailwayStatus> {
  const { target, variables, ollama } = await readCurrent(client, ref, 'optional')
  return {
    projectName: target.projectName,
    environmentName: target.environmentName,
    currentUrl: variables[ref.variable],
    recordedPreviousUrl: variables[previousVariableName(ref.variable)],
    ...rollbackOutlook(variables, ref),
    ollamaRunning: ollama ? ollama.activeDeployments.length > 0 : undefined,
  }
}

function rollbackOutlook(variables: Record<string, string>, ref: StatusRef) {
  try {
    return { rollbackUrl: planRollback(variables, ref).after }
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error
    return { rollbackUrl: undefined, rollbackProblem: error.message }
  }
}

function startResult(
  mode: SwitchMode,
  settings: SwitchSettings,
  plan: string[],
  before: ModeResult['before'],
): ModeResult {
  return { mode, dryRun: settings.dryRun, changed: false, plan, before, after: { ...before } }
}

function announce({ settings, target, logger }: Run, lines: string[]): void {
  const where = `${settings.service} in ${target.projectName} / ${target.environmentName}`
  const heading = settings.dryRun ? `Plan for ${where} (dry run, nothing will change):` : `Plan for ${where}:`
  logger.info([heading, ...lines.map((l) => `  ${l}`)].join('\n'))
}

function serviceIdOf(target: RailwayTarget, name: string): string {
  const id = target.services[name]
  if (!id) throw new ConfigurationError(`service "${name}" was not resolved`)
  return id
}

type OllamaLookup = 'required' | 'optional' | 'none'

function readState(client: RailwayClient, settings: SwitchSettings, logger: Logger, ollama: OllamaLookup) {
  return logger.group('Read Railway state', () => readCurrent(client, settings, ollama))
}

/** Resolves the target, reads Cognitia's variables (masking those that look secret) and, if asked, the old Ollama service. */
async function readCurrent(client: RailwayClient, ref: StatusRef, ollamaService: OllamaLookup) {
  const ollamaName = ref.ollamaService ?? ''
  const target = await client.resolveTarget({
    project: ref.project,
    environment: ref.environment,
    services: ollamaService === 'required' ? [ref.service, ollamaName] : [ref.service],
    optionalServices: ollamaService === 'optional' && ollamaName ? [ollamaName] : [],
  })
  const serviceId = serviceIdOf(target, ref.service)
  const variables = await readVariables(client, target, serviceId, ref)
  const ollamaId = target.services[ollamaName]
  const ollama =
    ollamaService !== 'none' && ollamaId ? await client.serviceInstance(target.environmentId, ollamaId) : undefined
  return { target, serviceId, variables, ollama }
}

/**
 * Reads a service's variables and masks what looks like a credential (see variableSecrets) and the
 * HF token switch writes, whatever its variable is called. Plain values stay readable: masking
 * `NODE_ENV=production` would turn every later "production" in the log into `***`.
 */
async function readVariables(client: RailwayClient, target: RailwayTarget, serviceId: string, ref: StatusRef) {
  const variables = await client.serviceVariables(target, serviceId)
  for (const [name, value] of Object.entries(variables)) {
    const secrets = name === ref.hfTokenVariable && value ? [value] : variableSecrets(name, value)
    for (const secret of secrets) ref.onSecret?.(secret)
  }
  return variables
}

/** Writes the changes in one upsert, once (writeOnce). Returns whether anything was written. */
async function writeVariables(
  run: Run,
  write: { serviceId: string; changes: Record<string, string>; before: Record<string, string> },
): Promise<boolean> {
  const { client, target, settings, logger } = run
  const { serviceId, changes, before } = write
  const names = Object.keys(changes)
  if (names.length === 0) {
    logger.info('variables already hold the wanted values; nothing to write')
    return false
  }
  const old = displayUrl(before[settings.variable])
  return logger.group(`Write ${names.join(', ')}`, () =>
    writeOnce({
      describe: 'the variable upsert',
      service: 'Railway',
      logger,
      clock: client.clock,
      send: async () => {
        await client.upsertVariables(target, serviceId, changes)
        logger.info(`upserted ${names.join(', ')} on ${settings.service} (skipDeploys)`)
        return true
      },
      confirm: async () => {
        const now = await readVariables(client, target, serviceId, settings)
        return names.every((n) => now[n] === changes[n]) ? true : undefined
      },
      nextStep: {
        notApplied: `nothing changed: ${settings.variable} is still ${old}; re-run this job`,
        unknown: `${settings.variable} holds either ${old} or ${displayUrl(changes[settings.variable] ?? before[settings.variable])} (an upsert applies whole); re-run this job once Railway answers`,
      },
    }),
  )
}

/**
 * Makes sure the service runs a deployment that carries the variables: deploys when they changed
 * now, or when no deployment newer than the variable's last change is running or on its way
 * (a previous run may have written the variable and died before deploying). Then polls to SUCCESS.
 */
async function deployWithChange(
  run: Run,
  options: { service: string; changedNow: boolean; failureHint: string },
): Promise<{ id: string; started: boolean }> {
  const { client, target, settings, logger } = run
  const { service, failureHint } = options
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
    deploymentId ??= await startDeployment(run, { serviceId, service, previousId: latestDeployment?.id, failureHint })
    await waitForSuccess(run, { id: deploymentId, service, failureHint })
    return { id: deploymentId, started }
  })
}

/** Deploys a stopped service (the old Ollama) and waits for SUCCESS; returns the deployment id. */
async function startService(run: Run, options: { service: string; failureHint: string }): Promise<string> {
  const { client, target, logger } = run
  const { service, failureHint } = options
  const serviceId = serviceIdOf(target, service)
  return logger.group(`Start ${service}`, async () => {
    const { latestDeployment } = await client.serviceInstance(target.environmentId, serviceId)
    const id =
      latestDeployment && isInProgress(latestDeployment.status)
        ? latestDeployment.id
        : await startDeployment(run, { serviceId, service, previousId: latestDeployment?.id, failureHint })
    await waitForSuccess(run, { id, service, failureHint })
    return id
  })
}

function isUsable(deployment: DeploymentSummary): boolean {
  return deployment.status === 'SUCCESS' || isInProgress(deployment.status)
}

/** One serviceInstanceDeployV2; a lost answer is settled by looking for a deployment newer than `previousId`. */
function startDeployment(
  { client, target, logger }: Run,
  options: { serviceId: string; service: string; previousId?: string; failureHint: string },
): Promise<string> {
  const { serviceId, service } = options
  return writeOnce({
    describe: `a deployment of ${service}`,
    service: 'Railway',
    logger,
    clock: client.clock,
    send: async () => {
      const id = await client.deploy(target.environmentId, serviceId)
      logger.info(`started deployment ${id} of ${service}`)
      return id
    },
    confirm: async () => {
      const latest = (await client.serviceInstance(target.environmentId, serviceId)).latestDeployment
      return latest && latest.id !== options.previousId ? latest.id : undefined
    },
    nextStep: { notApplied: options.failureHint, unknown: options.failureHint },
  })
}

async function waitForSuccess(
  { client, settings }: Run,
  options: { id: string; service: string; failureHint: string },
): Promise<void> {
  const { id, service, failureHint } = options
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

/** deploymentRemove once; a lost answer is settled by checking whether the deployment still runs. */
async function stopDeployment(
  { client, target, logger }: Run,
  options: { serviceId: string; deploymentId: string },
): Promise<void> {
  const { serviceId, deploymentId } = options
  const hint = 're-run mode=decommission (it only stops what still runs); mode=reactivate starts the service again'
  await writeOnce({
    describe: `stopping deployment ${deploymentId}`,
    service: 'Railway',
    logger,
    clock: client.clock,
    send: async () => {
      await client.removeDeployment(deploymentId)
      logger.info(`stopped deployment ${deploymentId}`)
      return true
    },
    confirm: async () => {
      const { activeDeployments } = await client.serviceInstance(target.environmentId, serviceId)
      return activeDeployments.some((d) => d.id === deploymentId) ? undefined : true
    },
    nextStep: { notApplied: hint, unknown: hint },
  })
}
