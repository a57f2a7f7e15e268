/**
 * A local stand-in for the Hugging Face Hub: the endpoints the pipeline calls, answering the way
 * @huggingface/hub expects (whoami, repo create/info, tree, preupload + LFS batch + NDJSON commit)
 * plus the raw Space endpoints (runtime, hardware, restart, secrets, variables, SSE logs).
 * It keeps state for tests to assert against, moves Spaces through runtime stages one step per
 * runtime read, and can inject failures (status codes, Retry-After, hangs, lost replies).
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface FakeUser {
  token: string
  name: string
  orgs?: Array<{ name: string; roleInOrg?: 'admin' | 'write' | 'contributor' | 'read' }>
  role?: 'write' | 'read' | 'admin' | 'fineGrained'
  /** For a fine-grained token: the owners it may write to. */
  scopedWrite?: string[]
  /** False = the 2026 rule: no Gradio/Docker Space without a paid plan (402 on create). */
  canCreateSpaces?: boolean
  /** False = 402 on requesting zero-a10g. */
  zeroGpuEligible?: boolean
  /** False = 402 on requesting paid hardware. */
  canPay?: boolean
}

export interface FakeFile {
  content: Buffer
  /** sha256 when the file was stored through LFS. */
  lfsOid?: string
}

export interface FakeCommit {
  oid: string
  parent: string
  title: string
  description?: string
  added: string[]
  deleted: string[]
}

export type FinalStage = 'RUNNING' | 'BUILD_ERROR' | 'RUNTIME_ERROR'

export interface BuildOutcome {
  stage: FinalStage
  errorMessage?: string
  buildLog?: string[]
  runLog?: string[]
}

export interface FakeSpace {
  id: string
  owner: string
  private: boolean
  sdk: string
  sha: string
  files: Map<string, FakeFile>
  commits: FakeCommit[]
  stage: string
  /** Stages still to come; each runtime read moves one step. */
  pendingStages: string[]
  hardware: { current: string | null; requested: string | null }
  secrets: Map<string, { value: string; description?: string; updatedAt: string }>
  variables: Map<string, { value: string; description?: string; updatedAt: string }>
  /** Explicit POST /restart calls. */
  restarts: number
  /** Restarts the Hub does by itself after a secret, variable or hardware change. */
  settingRestarts: number
  outcome: BuildOutcome
}

export interface RequestRecord {
  method: string
  path: string
  status: number
}

export interface HfFakeState {
  users: FakeUser[]
  spaces: Map<string, FakeSpace>
  requests: RequestRecord[]
  lfsObjects: Map<string, Buffer>
}

export interface FailureRule {
  method?: string
  /** Matched against the request path (without query): a RegExp, or a substring. */
  path: RegExp | string
  /** The status to answer with (ignored when `hang`). */
  status?: number
  message?: string
  retryAfter?: string
  /** Never answer: the client's deadline must fire. */
  hang?: boolean
  /** Apply the request first, then answer with the failure: a lost reply. */
  afterApply?: boolean
  /** How many matching requests fail; default 1. */
  times?: number
}

export interface HfFake {
  url: string
  state: HfFakeState
  /** Makes the next matching request(s) fail. */
  fail(rule: FailureRule): void
  /** How the next builds/starts of a Space end (default RUNNING); may be set before the Space exists. */
  setOutcome(spaceId: string, outcome: BuildOutcome): void
  /** Puts a Space directly into a stage (e.g. SLEEPING, a stale BUILD_ERROR). */
  setStage(spaceId: string, stage: string): void
  close(): Promise<void>
}

export interface HfFakeOptions {
  users?: FakeUser[]
  /** Runtime reads spent in BUILDING per build (default 2). */
  buildPolls?: number
  /** Runtime reads spent in APP_STARTING per start (default 1; 0 skips the stage). */
  startingPolls?: number
}

export const fakeToken = 'hf_fakeWriteTokenAlice0123456789abcdef'
export const defaultUser: FakeUser = {
  token: fakeToken,
  name: 'alice',
  orgs: [{ name: 'cognitia', roleInOrg: 'write' }],
  role: 'write',
}

const knownFlavors = new Set([
  'cpu-basic',
  'cpu-upgrade',
  'zero-a10g',
  't4-small',
  't4-medium',
  'l4x1',
  'l4x4',
  'l40sx1',
  'l40sx4',
  'l40sx8',
  'a10g-small',
  'a10g-large',
  'a10g-largex2',
  'a10g-largex4',
  'a100-large',
  'a100x4',
  'a100x8',
])
const freeFlavors = new Set(['cpu-basic', 'zero-a10g'])
const defaultGitattributes =
  '*.bin filter=lfs diff=lfs merge=lfs -text\n*.safetensors filter=lfs diff=lfs merge=lfs -text\n'

interface Reply {
  status: number
  body?: unknown
  headers?: Record<string, string>
  /** Server-sent event lines, written and then left open like the real log stream. */
  sse?: string[]
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

export function gitOid(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex')
}

function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex')
}

function lfsPointer(oid: string, size: number): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${size}\n`)
}

export async function startHfFake(options: HfFakeOptions = {}): Promise<HfFake> {
  const buildPolls = options.buildPolls ?? 2
  const startingPolls = options.startingPolls ?? 1
  const state: HfFakeState = {
    users: options.users ?? [defaultUser],
    spaces: new Map(),
    requests: [],
    lfsObjects: new Map(),
  }
  const failures: Array<FailureRule & { left: number }> = []
  const presetOutcomes = new Map<string, BuildOutcome>()
  let baseUrl = ''

  const now = () => new Date().toISOString()

  function userFor(req: IncomingMessage): FakeUser {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    const user = state.users.find((u) => u.token === token)
    if (!user) throw new HttpError(401, 'Invalid credentials in Authorization header')
    return user
  }

  function mayWrite(user: FakeUser, owner: string): boolean {
    const isSelf = user.name === owner
    const org = user.orgs?.find((o) => o.name === owner)
    if (!isSelf && (!org || org.roleInOrg === 'read')) return false
    const role = user.role ?? 'write'
    if (role === 'fineGrained') return user.scopedWrite?.includes(owner) ?? false
    return role === 'write' || role === 'admin'
  }

  function spaceFor(user: FakeUser, id: string, write: boolean): FakeSpace {
    const space = state.spaces.get(id)
    const member = user.name === space?.owner || user.orgs?.some((o) => o.name === space?.owner)
    if (!space || (space.private && !member)) {
      throw new HttpError(404, 'Repository not found', { 'X-Error-Code': 'RepoNotFound' })
    }
    if (write && !mayWrite(user, space.owner)) throw new HttpError(403, `You don't have write access to ${id}`)
    return space
  }

  function hasApp(space: FakeSpace): boolean {
    return space.files.has('README.md')
  }

  /** Queues the stages of a build (or of a plain restart), ending in the Space's configured outcome. */
  function startStages(space: FakeSpace, rebuild: boolean) {
    if (!hasApp(space)) return
    const building = Array.from({ length: Math.max(1, buildPolls) }, () => 'BUILDING')
    const outcome = space.outcome.stage
    const needsBuild = rebuild || outcome === 'BUILD_ERROR'
    const stages = needsBuild ? building : []
    if (outcome !== 'BUILD_ERROR') for (let i = 0; i < startingPolls; i++) stages.push('APP_STARTING')
    stages.push(outcome)
    space.stage = stages.shift() ?? outcome
    space.pendingStages = stages
  }

  function settingChanged(space: FakeSpace) {
    if (!hasApp(space)) return
    space.settingRestarts++
    startStages(space, false)
  }

  function runtimeOf(space: FakeSpace) {
    return {
      stage: space.stage,
      hardware: { ...space.hardware },
      storage: null,
      gcTimeout: space.hardware.requested === 'cpu-basic' ? 172800 : null,
      replicas: { requested: 1, current: 1 },
      devMode: false,
      domains: [{ domain: `${space.id.toLowerCase().replace(/[/._]/g, '-')}.hf.space`, stage: 'READY' }],
      ...(space.stage.endsWith('_ERROR') && space.outcome.errorMessage
        ? { errorMessage: space.outcome.errorMessage }
        : {}),
    }
  }

  function advance(space: FakeSpace) {
    const next = space.pendingStages.shift()
    if (!next) return
    space.stage = next
    if (next === 'RUNNING') space.hardware.current = space.hardware.requested
  }

  function treeOf(space: FakeSpace, recursive: boolean) {
    const entries: unknown[] = []
    const dirs = new Set<string>()
    for (const [path, file] of [...space.files].sort(([a], [b]) => a.localeCompare(b))) {
      const parts = path.split('/')
      for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'))
      if (!recursive && parts.length > 1) continue
      if (file.lfsOid) {
        const pointer = lfsPointer(file.lfsOid, file.content.length)
        entries.push({
          type: 'file',
          path,
          size: file.content.length,
          oid: gitOid(pointer),
          lfs: { oid: file.lfsOid, size: file.content.length, pointerSize: pointer.length },
        })
      } else {
        entries.push({ type: 'file', path, size: file.content.length, oid: gitOid(file.content) })
      }
    }
    for (const dir of dirs) {
      if (recursive || !dir.includes('/'))
        entries.push({ type: 'directory', path: dir, size: 0, oid: gitOid(Buffer.from(dir)) })
    }
    return entries
  }

  function applyCommit(space: FakeSpace, body: string, contentType: string): Reply {
    if (!contentType.startsWith('application/x-ndjson'))
      throw new HttpError(400, 'commit body must be application/x-ndjson')
    const lines = body.split('\n').filter((line) => line.trim() !== '')
    const ops = lines.map((line) => JSON.parse(line) as { key: string; value: Record<string, unknown> })
    const header = ops[0]
    if (header?.key !== 'header' || typeof header.value.summary !== 'string') {
      throw new HttpError(400, 'first NDJSON line must be the header with a summary')
    }
    if (header.value.parentCommit && header.value.parentCommit !== space.sha) {
      throw new HttpError(412, 'A commit has happened since. Please refresh and try again.')
    }
    const files = new Map(space.files)
    const added: string[] = []
    const deleted: string[] = []
    for (const { key, value } of ops.slice(1)) {
      const path = String(value.path)
      if (key === 'file') {
        if (value.encoding !== 'base64') throw new HttpError(400, `file ${path}: encoding must be base64`)
        files.set(path, { content: Buffer.from(String(value.content), 'base64') })
        added.push(path)
      } else if (key === 'lfsFile') {
        const content = state.lfsObjects.get(String(value.oid))
        if (!content || value.algo !== 'sha256') throw new HttpError(422, `LFS object for ${path} was never uploaded`)
        files.set(path, { content, lfsOid: String(value.oid) })
        added.push(path)
      } else if (key === 'deletedFile') {
        if (!files.delete(path)) throw new HttpError(404, `cannot delete ${path}: no such file`)
        deleted.push(path)
      } else {
        throw new HttpError(400, `unknown commit operation ${key}`)
      }
    }
    const oid = createHash('sha1').update(space.sha).update(body).digest('hex')
    space.commits.push({
      oid,
      parent: space.sha,
      title: header.value.summary,
      description: typeof header.value.description === 'string' ? header.value.description : undefined,
      added,
      deleted,
    })
    space.files = files
    space.sha = oid
    // Like the Hub, the SDK follows the README front matter.
    const sdk = /^---[\s\S]*?^sdk:\s*(\w+)/m.exec(files.get('README.md')?.content.toString() ?? '')?.[1]
    if (sdk) space.sdk = sdk
    startStages(space, true)
    return {
      status: 200,
      body: { success: true, commitOid: oid, commitUrl: `${baseUrl}/spaces/${space.id}/commit/${oid}`, hookOutput: '' },
    }
  }

  function createSpace(user: FakeUser, payload: Record<string, unknown>): Reply {
    const owner = String(payload.organization ?? user.name)
    const id = `${owner}/${String(payload.name)}`
    if (payload.type !== 'space') throw new HttpError(400, 'this fake only creates Spaces')
    if (!mayWrite(user, owner)) throw new HttpError(403, `You don't have the rights to create a space under ${owner}`)
    if (state.spaces.has(id)) throw new HttpError(409, 'You already created this space repo')
    const sdk = String(payload.sdk ?? 'static')
    if ((sdk === 'gradio' || sdk === 'docker') && user.canCreateSpaces === false) {
      throw new HttpError(402, 'Creating a Gradio or Docker Space requires a PRO subscription')
    }
    const gitattributes = Buffer.from(defaultGitattributes)
    state.spaces.set(id, {
      id,
      owner,
      private: payload.visibility === 'private' || payload.private === true,
      sdk,
      sha: createHash('sha1').update(`initial ${id}`).digest('hex'),
      files: new Map([['.gitattributes', { content: gitattributes }]]),
      commits: [],
      stage: 'NO_APP_FILE',
      pendingStages: [],
      hardware: { current: null, requested: 'cpu-basic' },
      secrets: new Map(),
      variables: new Map(),
      restarts: 0,
      settingRestarts: 0,
      outcome: presetOutcomes.get(id) ?? { stage: 'RUNNING' },
    })
    return { status: 200, body: { url: `${baseUrl}/spaces/${id}`, name: id, id: randomBytes(12).toString('hex') } }
  }

  function requestHardware(user: FakeUser, space: FakeSpace, flavor: string): Reply {
    if (!knownFlavors.has(flavor)) throw new HttpError(400, `Invalid hardware flavor ${flavor}`)
    if (flavor === 'zero-a10g' && space.sdk === 'docker')
      throw new HttpError(400, 'ZeroGPU is only available for Gradio Spaces')
    if (flavor === 'zero-a10g' && user.zeroGpuEligible === false) {
      throw new HttpError(402, 'You are not eligible to host ZeroGPU Spaces. Subscribe to PRO to use ZeroGPU.')
    }
    if (!freeFlavors.has(flavor) && user.canPay === false) {
      throw new HttpError(402, 'A payment method is required to use paid hardware')
    }
    if (space.hardware.requested !== flavor) {
      space.hardware.requested = flavor
      settingChanged(space)
    }
    return { status: 200, body: runtimeOf(space) }
  }

  function keyValue(payload: Record<string, unknown>): { key: string; value: string; description?: string } {
    const key = String(payload.key ?? '')
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new HttpError(400, `Invalid key "${key}"`)
    return {
      key,
      value: String(payload.value ?? ''),
      description: typeof payload.description === 'string' ? payload.description : undefined,
    }
  }

  function route(req: IncomingMessage, url: URL, body: Buffer): Reply {
    const method = req.method ?? 'GET'
    const path = url.pathname
    const json = () => {
      try {
        return JSON.parse(body.toString() || '{}') as Record<string, unknown>
      } catch {
        throw new HttpError(400, 'body is not JSON')
      }
    }

    const upload = /^\/lfs-upload\/([0-9a-f]{64})$/.exec(path)
    if (upload && method === 'PUT') {
      if (sha256(body) !== upload[1]) throw new HttpError(400, 'uploaded bytes do not match the oid')
      state.lfsObjects.set(upload[1] ?? '', body)
      return { status: 200, body: '' }
    }

    const user = userFor(req)
    if (path === '/api/whoami-v2' && method === 'GET') {
      const role = user.role ?? 'write'
      return {
        status: 200,
        body: {
          type: 'user',
          id: createHash('sha1').update(user.name).digest('hex').slice(0, 24),
          name: user.name,
          fullname: user.name,
          email: `${user.name}@example.com`,
          emailVerified: true,
          isPro: user.canCreateSpaces !== false,
          canPay: user.canPay !== false,
          billingMode: 'postpaid',
          periodEnd: null,
          avatarUrl: '',
          orgs: (user.orgs ?? []).map((org) => ({
            type: 'org',
            name: org.name,
            fullname: org.name,
            roleInOrg: org.roleInOrg,
          })),
          auth: {
            type: 'access_token',
            accessToken: {
              displayName: 'ci',
              role,
              createdAt: '2026-01-01T00:00:00.000Z',
              ...(role === 'fineGrained'
                ? {
                    fineGrained: {
                      canReadGatedRepos: true,
                      global: [],
                      scoped: (user.scopedWrite ?? []).map((name) => ({
                        entity: { type: name === user.name ? 'user' : 'org', name },
                        permissions: ['repo.content.read', 'repo.write'],
                      })),
                    },
                  }
                : {}),
            },
          },
        },
      }
    }
    if (path === '/api/repos/create' && method === 'POST') return createSpace(user, json())

    const lfsBatch = /^\/spaces\/([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/.exec(path)
    if (lfsBatch && method === 'POST') {
      spaceFor(user, lfsBatch[1] ?? '', true)
      const request = json() as { objects?: Array<{ oid: string; size: number }> }
      return {
        status: 200,
        headers: { 'Content-Type': 'application/vnd.git-lfs+json' },
        body: {
          transfer: 'basic',
          objects: (request.objects ?? []).map(({ oid, size }) =>
            state.lfsObjects.has(oid)
              ? { oid, size }
              : { oid, size, actions: { upload: { href: `${baseUrl}/lfs-upload/${oid}` } } },
          ),
        },
      }
    }

    const match = /^\/api\/spaces\/([^/]+\/[^/]+)(?:\/(.*))?$/.exec(path)
    if (!match) throw new HttpError(404, `no route ${method} ${path}`)
    const [, id = '', rest = ''] = match
    const action = rest.split('/')[0] ?? ''
    const write = method !== 'GET'
    const space = spaceFor(user, id, write)

    if (method === 'GET' && (rest === '' || action === 'revision')) {
      const expand = url.searchParams.getAll('expand')
      return {
        status: 200,
        body: {
          _id: createHash('sha1').update(id).digest('hex').slice(0, 24),
          id,
          author: space.owner,
          sha: space.sha,
          private: space.private,
          sdk: space.sdk,
          subdomain: id.toLowerCase().replace(/[/._]/g, '-'),
          likes: 0,
          lastModified: now(),
          siblings: [...space.files.keys()].map((rfilename) => ({ rfilename })),
          ...(expand.includes('runtime') ? { runtime: runtimeOf(space) } : {}),
        },
      }
    }
    if (action === 'settings' && method === 'PUT') {
      const payload = json()
      if (payload.visibility !== undefined) space.private = payload.visibility === 'private'
      return { status: 200, body: {} }
    }
    if (action === 'tree' && method === 'GET') {
      return { status: 200, body: treeOf(space, url.searchParams.get('recursive') === 'true') }
    }
    if (action === 'preupload' && method === 'POST') {
      const payload = json() as { files?: Array<{ path: string; size: number; sample: string }> }
      return {
        status: 200,
        body: {
          files: (payload.files ?? []).map((file) => ({
            path: file.path,
            uploadMode: file.size > 10_000_000 || Buffer.from(file.sample, 'base64').includes(0) ? 'lfs' : 'regular',
            shouldIgnore: false,
          })),
        },
      }
    }
    if (action === 'commit' && method === 'POST') {
      return applyCommit(space, body.toString(), req.headers['content-type'] ?? '')
    }
    if (action === 'runtime' && method === 'GET') {
      const runtime = runtimeOf(space)
      advance(space)
      return { status: 200, body: runtime }
    }
    if (action === 'hardware' && method === 'POST') return requestHardware(user, space, String(json().flavor))
    if (action === 'restart' && method === 'POST') {
      space.restarts++
      startStages(space, url.searchParams.get('factory') === 'true')
      return { status: 200, body: runtimeOf(space) }
    }
    if (action === 'secrets') {
      if (method === 'POST') {
        const { key, value, description } = keyValue(json())
        space.secrets.set(key, { value, description, updatedAt: now() })
        settingChanged(space)
        return { status: 200, body: {} }
      }
      if (method === 'DELETE') {
        space.secrets.delete(String(json().key))
        settingChanged(space)
        return { status: 200, body: {} }
      }
      return {
        status: 200,
        body: Object.fromEntries(
          [...space.secrets].map(([key, s]) => [key, { description: s.description, updatedAt: s.updatedAt }]),
        ),
      }
    }
    if (action === 'variables') {
      if (method === 'POST') {
        const { key, value, description } = keyValue(json())
        space.variables.set(key, { value, description, updatedAt: now() })
        settingChanged(space)
      } else if (method === 'DELETE') {
        space.variables.delete(String(json().key))
        settingChanged(space)
      }
      return { status: 200, body: Object.fromEntries(space.variables) }
    }
    const logs = /^logs\/(build|run)$/.exec(rest)
    if (logs && method === 'GET') {
      const lines = (logs[1] === 'build' ? space.outcome.buildLog : space.outcome.runLog) ?? []
      return {
        status: 200,
        sse: lines.map((line) => `data: ${JSON.stringify({ data: `${line}\n`, timestamp: now() })}\n\n`),
      }
    }
    throw new HttpError(404, `no route ${method} ${path}`)
  }

  function send(res: ServerResponse, reply: Reply) {
    if (reply.sse) {
      res.writeHead(reply.status, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' })
      for (const event of reply.sse) res.write(event)
      res.write('data: \n\n')
      return // left open on purpose: the real stream never ends while the Space exists
    }
    const isJson = reply.body !== undefined && typeof reply.body !== 'string'
    const headers = { 'Content-Type': isJson ? 'application/json' : 'text/plain', ...reply.headers }
    res.writeHead(reply.status, headers)
    res.end(isJson ? JSON.stringify(reply.body) : (reply.body as string | undefined))
  }

  function handle(req: IncomingMessage, url: URL, body: Buffer): Reply {
    try {
      return route(req, url, body)
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500
      const headers = error instanceof HttpError ? error.headers : {}
      return { status, headers, body: { error: error instanceof Error ? error.message : String(error) } }
    }
  }

  function injected(failure: FailureRule): Reply {
    const status = failure.status ?? 500
    return {
      status,
      headers: failure.retryAfter ? { 'Retry-After': failure.retryAfter } : {},
      body: { error: failure.message ?? `injected failure ${status}` },
    }
  }

  function takeFailure(method: string, path: string) {
    const rule = failures.find(
      (f) =>
        f.left > 0 &&
        (!f.method || f.method === method) &&
        (typeof f.path === 'string' ? path.includes(f.path) : f.path.test(path)),
    )
    if (rule) rule.left--
    return rule
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', baseUrl)
      const method = req.method ?? 'GET'
      const record: RequestRecord = { method, path: url.pathname, status: 0 }
      state.requests.push(record)
      const failure = takeFailure(method, url.pathname)
      if (failure?.hang) return // never answered; close() tears the socket down
      let reply = failure && !failure.afterApply ? injected(failure) : handle(req, url, Buffer.concat(chunks))
      if (failure?.afterApply) reply = injected(failure)
      record.status = reply.status
      send(res, reply)
    })
  })

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url: baseUrl,
    state,
    fail: (rule) => failures.push({ ...rule, left: rule.times ?? 1 }),
    setOutcome: (spaceId, outcome) => {
      presetOutcomes.set(spaceId, outcome)
      const space = state.spaces.get(spaceId)
      if (space) space.outcome = outcome
    },
    setStage: (spaceId, stage) => {
      const space = state.spaces.get(spaceId)
      if (!space) throw new Error(`no Space ${spaceId} in the fake`)
      space.stage = stage
      space.pendingStages = []
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}
