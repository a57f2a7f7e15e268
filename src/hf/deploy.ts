/**
 * The create-space job as one idempotent sequence: preflight, repo, hardware/secrets/variables,
 * upload, then wait for RUNNING. Settings go before the upload so the first build already runs
 * on the right hardware with its secrets. An unchanged, running Space gets no write at all.
 */
import { ConfigurationError } from '../errors.js'
import type { Logger } from '../logger.js'
import { readSpaceFolder, type SpaceSdk } from './space-files.js'
import type { SpaceManager, SpaceRuntime } from './space-manager.js'
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
  checkRuntimeHardware(request.runtime, request.hardware)
  const sdk: SpaceSdk = request.runtime === 'docker' ? 'docker' : 'gradio'
  await logger.group('Preflight', () => manager.preflight(spaceId))
  if (request.dryRun) return logger.group('Plan (dry run, nothing changes)', () => plan(manager, request, sdk, logger))

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

async function plan(manager: SpaceManager, request: DeployRequest, sdk: SpaceSdk, logger: Logger) {
  const { spaceId } = request
  const secretNames = Object.keys(request.secrets)
  const variableNames = Object.keys(request.variables)
  const settings = [
    ...(secretNames.length > 0 ? [`check secrets ${secretNames.join(', ')}`] : []),
    ...(variableNames.length > 0 ? [`check variables ${variableNames.join(', ')}`] : []),
  ]
  const existing = await manager.findSpace(spaceId)
  let changes: string[]
  let runtime: SpaceRuntime = { stage: 'ABSENT', hardware: { current: null, requested: null } }
  if (!existing) {
    changes = [
      `create ${request.private ? 'private' : 'public'} ${sdk} Space`,
      `hardware → ${request.hardware}`,
      ...settings,
    ]
    changes.push(`upload ${(await readSpaceFolder(request.folder, sdk)).length} files`)
  } else {
    runtime = await manager.getRuntime(spaceId)
    const upload = await manager.planUpload({ spaceId, folder: request.folder, sdk })
    changes = [
      ...(runtime.hardware.requested === request.hardware
        ? []
        : [`hardware ${runtime.hardware.requested} → ${request.hardware}`]),
      ...settings,
      ...upload.changed.map((file) => `upload ${file.path}`),
      ...upload.deleted.map((path) => `delete ${path}`),
    ]
  }
  for (const change of changes) logger.info(`would ${change}`)
  return result(manager, spaceId, existing?.sha ?? '', changes, runtime)
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
