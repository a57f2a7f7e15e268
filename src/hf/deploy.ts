/**
 * The create-space job as one idempotent sequence: preflight, repo, hardware/secrets/variables,
 * upload, then wait for RUNNING. Settings go before the upload so the first build already runs
 * on the right hardware with its secrets. An unchanged, running Space gets no write at all.
 */
import { ConfigurationError } from '../errors.js'
import type { Logger } from '../logger.js'
import { readSpaceFolder, type SpaceSdk } from './space-files.js'
import type { SpaceManager, SpaceRuntime, TokenAccess } from './space-manager.js'
import type { SpaceUrls } from './space-urls.js'

export type SpaceRuntimeKind = 'zerogpu' | 'docker'

export interface DeployRequest {
  spaceId: string
  private: boolean
  runtime: SpaceRuntimeKind
  hardware: string
  folder: string
  secrets: Record<string, string>
  variables: Record<string, string>
  commitMessage: string
  commitDescription?: string
  waitTimeoutMs: number
  dryRun: boolean
}

export interface DeployResult extends SpaceUrls {
  spaceId: string
  /** The Space's head commit after the run ('' when a dry run finds no Space). */
  commitSha: string
  /** What this run changed (or, in a dry run, would change), in words. */
  changes: string[]
  stage: string
  hardware: string | null
}

/**
 * What a deploy would change, as data (a dry run's answer; `changes` are its words). Secret and
 * variable names only: a plan never holds a value, and the Hub never returns a secret's.
 */
export interface SpacePlan {
  /** False: the Space would be created. */
  exists: boolean
  visibility: { from?: 'private' | 'public'; to: 'private' | 'public' }
  hardware: { from: string | null; to: string }
  /** Space secrets the run sets (each compared by fingerprint then; a plan cannot compare them). */
  secrets: string[]
  variables: string[]
  upload: {
    /** Every file the Space is made of. */
    total: number
    /** Paths whose hash differs from the Space's (all of them for a new Space). */
    changed: string[]
    /** Among `changed`, the paths the Space lacks. */
    added: string[]
    deleted: string[]
  }
}

/** Space secrets the action sets from its inputs; `variables` are stored in clear, so these are refused there. */
export const spaceSecretNames = { apiKey: 'ZEROLLAMA_API_KEY', hfReadToken: 'HF_TOKEN' } as const

const busyStages = new Set(['BUILDING', 'RUNNING_BUILDING', 'APP_STARTING', 'RUNNING_APP_STARTING'])

/** ZeroGPU is Gradio-only and has one flavor; Docker needs dedicated paid hardware to be worth it. */
export function checkRuntimeHardware(runtime: SpaceRuntimeKind, hardware: string): void {
  if (runtime === 'zerogpu' && hardware !== 'zero-a10g') {
    throw new ConfigurationError(
      `runtime zerogpu uses hardware zero-a10g, not ${hardware}; for ${hardware} use runtime docker`,
    )
  }
  if (runtime === 'docker' && (hardware === 'zero-a10g' || hardware === 'cpu-basic')) {
    throw new ConfigurationError(
      `runtime docker needs a paid GPU flavor (e.g. l4x1, a10g-small, l40sx1), not ${hardware}: ZeroGPU cannot run Docker Spaces`,
    )
  }
}

export async function deploySpace(
  manager: SpaceManager,
  request: DeployRequest,
  logger: Logger,
  onCommit: (commitSha: string) => void = () => {},
): Promise<DeployResult> {
  const { spaceId } = request
  if (request.dryRun) {
    const { plan: _plan, ...planned } = await planDeploy(manager, request, logger)
    return planned
  }
  checkRuntimeHardware(request.runtime, request.hardware)
  const sdk: SpaceSdk = request.runtime === 'docker' ? 'docker' : 'gradio'
  await logger.group('Preflight', () => manager.preflight(spaceId))

  const changes: string[] = []
  const space = await logger.group('Space repo', () => manager.ensureSpace({ spaceId, private: request.private, sdk }))
  if (space.created) changes.push(`created ${request.private ? 'private' : 'public'} ${sdk} Space`)

  const configure = () =>
    logger.group('Hardware, secrets and variables', async () => {
      if ((await manager.setHardware(spaceId, request.hardware)).changed) changes.push(`hardware → ${request.hardware}`)
      if (Object.keys(request.secrets).length > 0) {
        for (const key of (await manager.setSecrets(spaceId, request.secrets)).changed) changes.push(`secret ${key}`)
      }
      if (Object.keys(request.variables).length > 0) {
        for (const key of (await manager.setVariables(spaceId, request.variables)).changed)
          changes.push(`variable ${key}`)
      }
    })
  const upload = () =>
    logger.group('Upload', async () => {
      const uploaded = await manager.uploadSpaceFolder({
        spaceId,
        folder: request.folder,
        commitMessage: request.commitMessage,
        commitDescription: request.commitDescription,
        sdk,
      })
      onCommit(uploaded.commitSha)
      if (uploaded.changed) changes.push(`commit ${uploaded.commitSha.slice(0, 12)}`)
      return uploaded.commitSha
    })
  // Hardware must suit the SDK the Space has when it is requested (the Hub refuses ZeroGPU for a Docker
  // Space), so a Space changing runtime gets its new README first.
  let commitSha: string
  if (space.sdk === sdk) {
    await configure()
    commitSha = await upload()
  } else {
    logger.info(`switching ${spaceId} from the ${space.sdk} SDK to ${sdk}: uploading before the hardware change`)
    commitSha = await upload()
    await configure()
  }

  const runtime = await logger.group('Wait until RUNNING', async () => {
    let expectChange = changes.length > 0
    if (!expectChange) {
      const { stage } = await manager.getRuntime(spaceId)
      // Nothing changed, so nothing will restart it by itself: wake or retry a Space that is not up.
      if (stage !== 'RUNNING' && !busyStages.has(stage)) {
        await manager.restart(spaceId)
        changes.push(`restart (was ${stage})`)
        expectChange = true
      }
    }
    return manager.waitUntilRunning(spaceId, { timeoutMs: request.waitTimeoutMs, expectChange })
  })
  if (changes.length === 0) logger.info('nothing changed: the Space already matched')
  return result(manager, spaceId, commitSha, changes, runtime)
}

/**
 * The dry run: what deploySpace would change, read with a token that needs only `access` (a PR plan
 * reads with a read token; create-space's own dry run checks the write token it will deploy with).
 */
export async function planDeploy(
  manager: SpaceManager,
  request: Omit<DeployRequest, 'dryRun' | 'waitTimeoutMs' | 'commitMessage'>,
  logger: Logger,
  access: TokenAccess = 'write',
): Promise<DeployResult & { plan: SpacePlan }> {
  checkRuntimeHardware(request.runtime, request.hardware)
  const sdk: SpaceSdk = request.runtime === 'docker' ? 'docker' : 'gradio'
  await logger.group('Preflight', () => manager.preflight(request.spaceId, access))
  return logger.group('Plan (dry run, nothing changes)', () => plan(manager, request, sdk, logger))
}

async function plan(
  manager: SpaceManager,
  request: Pick<DeployRequest, 'spaceId' | 'private' | 'hardware' | 'folder' | 'secrets' | 'variables'>,
  sdk: SpaceSdk,
  logger: Logger,
) {
  const { spaceId } = request
  const existing = await manager.findSpace(spaceId)
  const to = request.private ? 'private' : 'public'
  let runtime: SpaceRuntime = { stage: 'ABSENT', hardware: { current: null, requested: null } }
  let upload: SpacePlan['upload']
  if (!existing) {
    const files = (await readSpaceFolder(request.folder, sdk)).map((file) => file.path)
    upload = { total: files.length, changed: files, added: files, deleted: [] }
  } else {
    runtime = await manager.getRuntime(spaceId)
    const planned = await manager.planUpload({ spaceId, folder: request.folder, sdk })
    const changed = planned.changed.map((file) => file.path)
    upload = { total: planned.files.length, changed, added: planned.added, deleted: planned.deleted }
  }
  const spacePlan: SpacePlan = {
    exists: Boolean(existing),
    visibility: { from: existing ? (existing.private ? 'private' : 'public') : undefined, to },
    hardware: { from: runtime.hardware.requested, to: request.hardware },
    secrets: Object.keys(request.secrets),
    variables: Object.keys(request.variables),
    upload,
  }
  const changes = describePlan(spacePlan, sdk)
  for (const change of changes) logger.info(`would ${change}`)
  return { ...result(manager, spaceId, existing?.sha ?? '', changes, runtime), plan: spacePlan }
}

/** A plan in the words the dry run prints, one change a line. */
export function describePlan(plan: SpacePlan, sdk: SpaceSdk): string[] {
  const settings = [
    ...(plan.secrets.length > 0 ? [`check secrets ${plan.secrets.join(', ')}`] : []),
    ...(plan.variables.length > 0 ? [`check variables ${plan.variables.join(', ')}`] : []),
  ]
  if (!plan.exists) {
    return [
      `create ${plan.visibility.to} ${sdk} Space`,
      `hardware → ${plan.hardware.to}`,
      ...settings,
      `upload ${plan.upload.total} files`,
    ]
  }
  const { from, to } = plan.visibility
  return [
    ...(from === to ? [] : [`visibility ${from} → ${to}`]),
    ...(plan.hardware.from === plan.hardware.to ? [] : [`hardware ${plan.hardware.from} → ${plan.hardware.to}`]),
    ...settings,
    ...plan.upload.changed.map((path) => `upload ${path}`),
    ...plan.upload.deleted.map((path) => `delete ${path}`),
  ]
}

function result(
  manager: SpaceManager,
  spaceId: string,
  commitSha: string,
  changes: string[],
  runtime: SpaceRuntime,
): DeployResult {
  return {
    spaceId,
    ...manager.spaceUrls(spaceId),
    commitSha,
    changes,
    stage: runtime.stage,
    hardware: runtime.hardware.current ?? runtime.hardware.requested,
  }
}

/** `KEY=VALUE` per line; blank lines and `#` comments are skipped. */
export function parseVariables(text: string): Record<string, string> {
  const variables: Record<string, string> = {}
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line)
    if (!match) throw new ConfigurationError(`variables line ${index + 1} is not KEY=VALUE`)
    const [, key = '', value = ''] = match
    if (Object.values(spaceSecretNames).includes(key as never)) {
      throw new ConfigurationError(`${key} is a secret: pass it through its own input, not variables`)
    }
    variables[key] = value
  }
  return variables
}
