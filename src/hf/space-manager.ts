/**
 * Everything the pipeline does to a Hugging Face Space. Repo, files and identity go through
 * @huggingface/hub; hardware, secrets, variables, runtime, restart and logs (which that library
 * does not cover) go through the same deadline-bearing fetch. Reads retry with backoff; writes are
 * never repeated blindly: when a write's reply is lost, the state is read back to decide.
 */
import { scryptSync } from 'node:crypto'
import { commit, createRepo, listFiles, spaceInfo, whoAmI } from '@huggingface/hub'
import { ConfigurationError, ServiceError } from '../errors.js'
import type { Logger } from '../logger.js'
import { type Clock, pollUntil, realClock, retryRead, writeOnce } from '../retry.js'
import { createHubFetch, type HubFetch, hubService, statusOf } from './hub-http.js'
import { readSpaceFolder, type SpaceFile, type SpaceSdk, sameContent } from './space-files.js'
import { readLogTail } from './space-logs.js'
import { parseSpaceId, type SpaceUrls, spaceUrls } from './space-urls.js'

export interface SpaceRuntime {
  /** A SpaceStage (RUNNING, BUILDING, BUILD_ERROR, …); unknown stages are passed through, never rejected. */
  stage: string
  hardware: { current: string | null; requested: string | null }
  errorMessage?: string
}

export interface UploadPlan {
  files: SpaceFile[]
  /** Files whose Hub oid differs from the local hash, new files included. */
  changed: SpaceFile[]
  /** The paths among `changed` that the Space does not hold at all. */
  added: string[]
  deleted: string[]
  headSha: string
}

/** What a token must be allowed to do: `write` for a deploy, `read` for a plan that changes nothing. */
export type TokenAccess = 'read' | 'write'

export interface SpaceManagerOptions {
  token: string
  hubUrl?: string
  logger: Logger
  clock?: Clock
  /** Deadline for one request; an upload commit gets `uploadTimeoutMs`. */
  requestTimeoutMs?: number
  uploadTimeoutMs?: number
  pollIntervalMs?: number
  readAttempts?: number
  /** How long a settled stage may be stale after a change before it is believed. */
  staleStageGraceMs?: number
  logTail?: { lines?: number; idleMs?: number; totalMs?: number }
}

const inProgressStages = new Set(['BUILDING', 'RUNNING_BUILDING', 'APP_STARTING', 'RUNNING_APP_STARTING'])
const failedStages = new Set(['BUILD_ERROR', 'RUNTIME_ERROR', 'CONFIG_ERROR', 'NO_APP_FILE'])
const asleepStages = new Set(['PAUSED', 'STOPPED', 'SLEEPING'])
/** The Hub creates this file in every new repo; the local folder never holds it. */
const hubOwnedFiles = new Set(['.gitattributes'])

export class SpaceManager {
  private readonly token: string
  private readonly hubUrl: string
  private readonly logger: Logger
  private readonly clock: Clock
  private readonly fetch: HubFetch
  private readonly uploadFetch: HubFetch
  private readonly options: SpaceManagerOptions

  constructor(options: SpaceManagerOptions) {
    this.options = options
    this.token = options.token
    this.hubUrl = (options.hubUrl ?? 'https://huggingface.co').replace(/\/+$/, '')
    this.logger = options.logger
    this.clock = options.clock ?? realClock
    this.fetch = createHubFetch({ timeoutMs: options.requestTimeoutMs ?? 30_000, logger: options.logger })
    this.uploadFetch = createHubFetch({ timeoutMs: options.uploadTimeoutMs ?? 300_000, logger: options.logger })
  }

  spaceUrls(spaceId: string): SpaceUrls {
    return spaceUrls(spaceId)
  }

  /**
   * Token valid, allowed to write, and the Space's owner is the token's user or one of their orgs.
   * With `access: 'read'` (a plan) only a valid token is needed; a token that could write is named,
   * since a read-only job should not hold one.
   */
  async preflight(spaceId: string, need: TokenAccess = 'write'): Promise<{ user: string; owner: string }> {
    const { owner } = parseSpaceId(spaceId)
    const me = await this.read(() => whoAmI({ accessToken: this.token, hubUrl: this.hubUrl, fetch: this.fetch })).catch(
      (error) => {
        if (statusOf(error) === 401) {
          throw new ConfigurationError(
            'the Hub rejected hf-token (401): create a write token at huggingface.co/settings/tokens and store it as the HF_TOKEN secret',
          )
        }
        throw error
      },
    )
    if (me.type !== 'user') throw new ConfigurationError(`hf-token belongs to ${me.type} ${me.name}; use a user token`)
    if (need === 'read') {
      const role = (me.auth.accessToken as { role?: string } | undefined)?.role
      if (role === 'write' || role === 'admin') {
        this.logger.warning(`hf-token has the ${role} role; a plan only reads, so give it a read token`)
      }
      this.logger.info(`token ok: user ${me.name}, reading ${spaceId}`)
      return { user: me.name, owner }
    }
    const orgs = me.orgs.map((org) => org as typeof org & { roleInOrg?: string })
    const org = orgs.find((o) => o.name.toLowerCase() === owner.toLowerCase())
    if (me.name.toLowerCase() !== owner.toLowerCase() && !org) {
      const known = [me.name, ...orgs.map((o) => o.name)].join(', ')
      throw new ConfigurationError(`the token's user ${me.name} cannot own ${spaceId}: choose an owner among ${known}`)
    }
    if (org?.roleInOrg === 'read') {
      throw new ConfigurationError(`${me.name} has only read access in org ${owner}; ask an org admin for write`)
    }
    const access = me.auth.accessToken as
      | { role: string; fineGrained?: { scoped?: Array<{ entity: { name: string }; permissions: string[] }> } }
      | undefined
    if (access && !canWrite(access, owner)) {
      throw new ConfigurationError(
        `hf-token cannot write to ${owner}'s repos (token role: ${access.role}); use a write token, or grant the fine-grained token "repo.write" on ${owner}`,
      )
    }
    this.logger.info(`token ok: user ${me.name}, may write to ${owner}`)
    return { user: me.name, owner }
  }

  /**
   * Creates the Space if absent; an existing one keeps its files, and gets the requested visibility.
   * `sdk` is the SDK the Space has now (an existing Space switches SDK only when its README is replaced).
   */
  async ensureSpace(options: {
    spaceId: string
    private: boolean
    sdk: SpaceSdk
  }): Promise<{ created: boolean; sdk: string }> {
    const { spaceId } = options
    const visibility = options.private ? 'private' : 'public'
    const existing = await this.findSpace(spaceId)
    if (existing) {
      if (existing.private !== options.private) {
        this.logger.info(`visibility: ${existing.private ? 'private' : 'public'} → ${visibility}`)
        await this.write(
          'visibility change',
          () => this.api('PUT', `/api/spaces/${spaceId}/settings`, { visibility }),
          async () => (await this.findSpace(spaceId))?.private === options.private,
        )
      }
      this.logger.info(`Space ${spaceId} exists (${existing.sdk} SDK)`)
      return { created: false, sdk: existing.sdk }
    }
    const outcome = await writeOnce({
      describe: `creating ${spaceId}`,
      service: hubService,
      logger: this.logger,
      clock: this.clock,
      send: () =>
        createRepo({
          repo: { type: 'space', name: spaceId },
          visibility,
          sdk: options.sdk,
          accessToken: this.token,
          hubUrl: this.hubUrl,
          fetch: this.fetch,
        }).then(
          () => 'created' as const,
          (error: unknown) => createRefusal(spaceId, error),
        ),
      confirm: async () => ((await this.findSpace(spaceId)) ? ('created' as const) : undefined),
    })
    if (outcome === 'existed') {
      this.logger.info(`Space ${spaceId} was created meanwhile; using it`)
      return { created: false, sdk: (await this.findSpace(spaceId))?.sdk ?? options.sdk }
    }
    this.logger.info(`created ${visibility} ${options.sdk} Space ${spaceId}`)
    return { created: true, sdk: options.sdk }
  }

  /** What an upload of `folder` would change: only files whose Hub oid differs, plus files gone locally. */
  async planUpload(options: { spaceId: string; folder: string; sdk: SpaceSdk }): Promise<UploadPlan> {
    const files = await readSpaceFolder(options.folder, options.sdk)
    const [remote, info] = await Promise.all([
      this.read(() => collect(listFiles({ ...this.repoParams(options.spaceId), recursive: true }))),
      this.read(() => spaceInfo({ ...this.infoParams(options.spaceId), additionalFields: ['sha'] })),
    ])
    const remoteFiles = new Map(remote.filter((entry) => entry.type === 'file').map((entry) => [entry.path, entry]))
    const changed = files.filter((file) => {
      const entry = remoteFiles.get(file.path)
      return !entry || !sameContent(file, entry)
    })
    const added = changed.filter((file) => !remoteFiles.has(file.path)).map((file) => file.path)
    const local = new Set(files.map((file) => file.path))
    const deleted = [...remoteFiles.keys()].filter((path) => !local.has(path) && !hubOwnedFiles.has(path))
    return { files, changed, added, deleted, headSha: info.sha }
  }

  /** One commit with every changed file; none at all when the Space already holds the folder. */
  async uploadSpaceFolder(options: {
    spaceId: string
    folder: string
    commitMessage: string
    commitDescription?: string
    sdk?: SpaceSdk
  }): Promise<{ commitSha: string; changed: boolean }> {
    const target = { spaceId: options.spaceId, folder: options.folder, sdk: options.sdk ?? 'gradio' }
    const plan = await this.planUpload(target)
    if (plan.changed.length === 0 && plan.deleted.length === 0) {
      this.logger.info(`all ${plan.files.length} files already match ${plan.headSha.slice(0, 12)}; no commit`)
      return { commitSha: plan.headSha, changed: false }
    }
    for (const file of plan.changed) this.logger.info(`upload ${file.path} (${file.content.length} bytes)`)
    for (const path of plan.deleted) this.logger.info(`delete ${path}`)
    return writeOnce({
      describe: `the commit to ${options.spaceId}`,
      service: hubService,
      logger: this.logger,
      clock: this.clock,
      send: async () => {
        const output = await commit({
          ...this.repoParams(options.spaceId),
          fetch: this.uploadFetch,
          title: options.commitMessage,
          description: options.commitDescription,
          parentCommit: plan.headSha,
          operations: [
            ...plan.changed.map((file) => ({
              operation: 'addOrUpdate' as const,
              path: file.path,
              content: new Blob([new Uint8Array(file.content)]),
            })),
            ...plan.deleted.map((path) => ({ operation: 'delete' as const, path })),
          ],
        }).catch((error: unknown) => {
          throw commitRefusal(options.spaceId, error)
        })
        const commitSha = output?.commit.oid ?? ''
        this.logger.info(`committed ${commitSha}`)
        return { commitSha, changed: true }
      },
      // Settled when the Space now holds every file: nothing differs any more.
      confirm: async () => {
        const after = await this.planUpload(target)
        return after.changed.length === 0 && after.deleted.length === 0
          ? { commitSha: after.headSha, changed: true }
          : undefined
      },
    })
  }

  /** Requests `flavor` unless it is already the requested hardware. */
  async setHardware(spaceId: string, flavor: string): Promise<{ changed: boolean }> {
    const before = (await this.getRuntime(spaceId)).hardware.requested
    if (before === flavor) {
      this.logger.info(`hardware already ${flavor}`)
      return { changed: false }
    }
    this.logger.info(`hardware: ${before ?? 'none'} → ${flavor}`)
    try {
      await this.write(
        'hardware request',
        () => this.api('POST', `/api/spaces/${spaceId}/hardware`, { flavor }),
        async () => (await this.getRuntime(spaceId)).hardware.requested === flavor,
      )
    } catch (error) {
      if (statusOf(error) === 402 || statusOf(error) === 403) throw hardwareRefusal(spaceId, flavor, error)
      throw error
    }
    return { changed: true }
  }

  /**
   * Sets each secret whose value differs. The Hub never returns secret values, so each secret's
   * description carries a salted scrypt fingerprint of its value to compare against on re-runs.
   */
  async setSecrets(spaceId: string, secrets: Record<string, string>): Promise<{ changed: string[] }> {
    const listSecrets = () =>
      this.read(() => this.api<Record<string, { description?: string }>>('GET', `/api/spaces/${spaceId}/secrets`))
    const existing = await listSecrets()
    const changed: string[] = []
    for (const [key, value] of Object.entries(secrets)) {
      const description = `set by zerollama; fingerprint ${fingerprint(spaceId, key, value)}`
      if (existing[key]?.description === description) {
        this.logger.info(`secret ${key}: unchanged`)
        continue
      }
      await this.write(
        `secret ${key}`,
        () => this.api('POST', `/api/spaces/${spaceId}/secrets`, { key, value, description }),
        async () => (await listSecrets())[key]?.description === description,
      )
      this.logger.info(`secret ${key}: set`)
      changed.push(key)
    }
    return { changed }
  }

  /** Sets each variable whose value differs; variables are not secret, so values are compared directly. */
  async setVariables(spaceId: string, variables: Record<string, string>): Promise<{ changed: string[] }> {
    const listVariables = () =>
      this.read(() => this.api<Record<string, { value: string }>>('GET', `/api/spaces/${spaceId}/variables`))
    const existing = await listVariables()
    const changed: string[] = []
    for (const [key, value] of Object.entries(variables)) {
      if (existing[key]?.value === value) {
        this.logger.info(`variable ${key}: unchanged`)
        continue
      }
      await this.write(
        `variable ${key}`,
        () => this.api('POST', `/api/spaces/${spaceId}/variables`, { key, value }),
        async () => (await listVariables())[key]?.value === value,
      )
      this.logger.info(`variable ${key}: ${existing[key] ? `${existing[key].value} → ` : ''}${value}`)
      changed.push(key)
    }
    return { changed }
  }

  async getRuntime(spaceId: string): Promise<SpaceRuntime> {
    const raw = await this.read(() =>
      this.api<{ stage?: string; hardware?: SpaceRuntime['hardware']; errorMessage?: string }>(
        'GET',
        `/api/spaces/${spaceId}/runtime`,
      ),
    )
    return {
      stage: raw.stage ?? 'UNKNOWN',
      hardware: { current: raw.hardware?.current ?? null, requested: raw.hardware?.requested ?? null },
      ...(raw.errorMessage ? { errorMessage: raw.errorMessage } : {}),
    }
  }

  async restart(spaceId: string): Promise<void> {
    this.logger.info(`restarting ${spaceId}`)
    await this.write(
      'restart',
      () => this.api('POST', `/api/spaces/${spaceId}/restart`),
      async () => inProgressStages.has((await this.getRuntime(spaceId)).stage),
    )
  }

  /**
   * Polls the runtime until RUNNING, logging each stage change. After a change (`expectChange`),
   * a settled stage seen before any build/start stage may be the old one, so it is only believed
   * once the grace period has passed. A failed stage throws with the tail of the matching log.
   */
  async waitUntilRunning(
    spaceId: string,
    options: { timeoutMs: number; expectChange?: boolean },
  ): Promise<SpaceRuntime> {
    const started = this.clock.now()
    const grace = this.options.staleStageGraceMs ?? 30_000
    let sawProgress = !options.expectChange
    let last: string | undefined
    return pollUntil(
      async () => {
        const runtime = await this.getRuntime(spaceId)
        if (runtime.stage !== last) {
          const hardware = runtime.hardware.current ?? runtime.hardware.requested ?? 'none'
          this.logger.info(`stage ${last ?? '—'} → ${runtime.stage} (hardware ${hardware})`)
          last = runtime.stage
        }
        if (inProgressStages.has(runtime.stage)) {
          sawProgress = true
          return undefined
        }
        if (!sawProgress && this.clock.now() - started < grace) return undefined
        if (runtime.stage === 'RUNNING') return runtime
        if (failedStages.has(runtime.stage)) throw await this.stageFailure(spaceId, runtime)
        if (asleepStages.has(runtime.stage)) {
          throw new ServiceError(hubService, `${spaceId} is ${runtime.stage}`, {
            nextStep: 're-run the job (it restarts a sleeping or paused Space)',
          })
        }
        return undefined
      },
      {
        timeoutMs: options.timeoutMs,
        intervalMs: this.options.pollIntervalMs ?? 5000,
        clock: this.clock,
        what: `${spaceId} to run`,
      },
    )
  }

  private async stageFailure(spaceId: string, runtime: SpaceRuntime): Promise<ServiceError> {
    const kind = runtime.stage === 'BUILD_ERROR' ? 'build' : 'run'
    const tail = await readLogTail({
      fetch: this.fetch,
      url: `${this.hubUrl}/api/spaces/${spaceId}/logs/${kind}`,
      token: this.token,
      ...this.options.logTail,
    })
    const reason = runtime.errorMessage ? `: ${runtime.errorMessage}` : ''
    const logs = tail.length > 0 ? `\nlast ${tail.length} lines of the ${kind} log:\n${tail.join('\n')}` : ''
    return new ServiceError(
      hubService,
      `${spaceId} stopped at ${runtime.stage}${reason}. Fix space/ and re-run; full log: ${spaceUrls(spaceId).spaceUrl}?logs=${kind === 'build' ? 'build' : 'container'}${logs}`,
    )
  }

  /** The Space's visibility, SDK and head commit; undefined when it does not exist. */
  async findSpace(spaceId: string): Promise<{ private: boolean; sdk: string; sha: string } | undefined> {
    try {
      const info = await this.read(() => spaceInfo({ ...this.infoParams(spaceId), additionalFields: ['sha'] }))
      return { private: info.private, sdk: info.sdk ?? 'unknown', sha: info.sha }
    } catch (error) {
      // The Hub answers 401 as well as 404 for a repo that does not exist (preflight proved the token good).
      if (statusOf(error) === 404 || statusOf(error) === 401) return undefined
      throw error
    }
  }

  private repoParams(spaceId: string) {
    return {
      repo: { type: 'space' as const, name: spaceId },
      accessToken: this.token,
      hubUrl: this.hubUrl,
      fetch: this.fetch,
    }
  }

  private infoParams(spaceId: string) {
    return { name: spaceId, accessToken: this.token, hubUrl: this.hubUrl, fetch: this.fetch }
  }

  private read<T>(fn: () => Promise<T>): Promise<T> {
    return retryRead(fn, {
      attempts: this.options.readAttempts ?? 4,
      clock: this.clock,
      onRetry: (error, delayMs, attempt) =>
        this.logger.warning(`${error.message}; retry ${attempt} in ${Math.round(delayMs / 1000)} s`),
    })
  }

  /** Runs a write once through writeOnce: a lost reply is settled by `verify` reading the state back. */
  private async write(what: string, send: () => Promise<unknown>, verify: () => Promise<boolean>): Promise<void> {
    await writeOnce({
      describe: what,
      service: hubService,
      logger: this.logger,
      clock: this.clock,
      send: async () => {
        await send()
        return true
      },
      confirm: async () => ((await verify()) ? true : undefined),
    })
  }

  private async api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.fetch(`${this.hubUrl}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    if (!response.headers.get('content-type')?.includes('json')) return text as T
    return (text ? JSON.parse(text) : {}) as T
  }
}

function canWrite(
  access: { role: string; fineGrained?: { scoped?: Array<{ entity: { name: string }; permissions: string[] }> } },
  owner: string,
): boolean {
  if (access.role === 'write' || access.role === 'admin') return true
  if (access.role !== 'fineGrained') return false
  return (access.fineGrained?.scoped ?? []).some(
    (scope) => scope.entity.name.toLowerCase() === owner.toLowerCase() && scope.permissions.includes('repo.write'),
  )
}

/** createRepo's refusals: 409 means the Space exists (someone was quicker); 402 needs a paid plan. */
function createRefusal(spaceId: string, error: unknown): 'existed' {
  const status = statusOf(error)
  if (status === 409) return 'existed'
  if (status === 402) {
    throw new ConfigurationError(
      `the Hub refused to create ${spaceId} (402 Payment Required): a Gradio or Docker Space needs a paid plan (PRO, Team or Enterprise) on ${parseSpaceId(spaceId).owner}; upgrade at huggingface.co/pricing and re-run`,
    )
  }
  throw error
}

/** A commit refused because the Space moved on (412/409) is worth a re-run, which uploads only what still differs. */
function commitRefusal(spaceId: string, error: unknown): unknown {
  const status = statusOf(error)
  if (status !== 412 && status !== 409) return error
  return new ServiceError(hubService, `${spaceId} received another commit during the upload`, {
    status,
    nextStep: 're-run the job; it uploads only what still differs',
  })
}

function hardwareRefusal(spaceId: string, flavor: string, error: unknown): ConfigurationError {
  const status = statusOf(error)
  const { owner } = parseSpaceId(spaceId)
  if (flavor === 'zero-a10g') {
    return new ConfigurationError(
      `the Hub refused ZeroGPU hardware for ${spaceId} (${status}): ${owner} is not eligible to host ZeroGPU Spaces. ` +
        'It needs PRO (up to 10 Spaces), a Team/Enterprise org, or a free account in good standing (verified email, older than 30 days, at most 2 ZeroGPU Spaces). ' +
        'Upgrade at huggingface.co/pricing, or use runtime: docker with a paid hardware flavor',
    )
  }
  return new ConfigurationError(
    `the Hub refused hardware ${flavor} for ${spaceId} (${status}): add a payment method for ${owner} at huggingface.co/settings/billing (paid hardware is billed per minute), or use runtime: zerogpu`,
  )
}

/** A salted, slow hash: lets a re-run tell whether a secret changed without the Hub ever returning it. */
function fingerprint(spaceId: string, key: string, value: string): string {
  return scryptSync(value, `zerollama:${spaceId}:${key}`, 12).toString('hex')
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = []
  for await (const item of items) all.push(item)
  return all
}
