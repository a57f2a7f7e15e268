import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConfigurationError, ServiceError } from '../../src/errors.js'
import { SpaceManager } from '../../src/hf/space-manager.js'
import { recordingLogger } from '../../src/logger.js'
import { defaultUser, type FakeUser, fakeToken, gitOid, type HfFake, startHfFake } from '../fakes/hf.js'
import { makeSpaceFolder, removeFolder } from '../fakes/hf-fixtures.js'
import { instantClock } from '../support/clock.js'

const spaceId = 'alice/zerollama'
let fake: HfFake
let folder: string

beforeEach(async () => {
  fake = await startHfFake({
    users: [
      defaultUser,
      { token: 'hf_readOnlyToken000000000000000000', name: 'bob', role: 'read' },
      { token: 'hf_fineGrainedToken00000000000000', name: 'carol', role: 'fineGrained', scopedWrite: ['carol'] },
      { token: 'hf_freeAccountToken00000000000000', name: 'dave', zeroGpuEligible: false, canPay: false },
      { token: 'hf_noSpacesToken00000000000000000', name: 'erin', canCreateSpaces: false },
      { token: 'hf_orgReaderToken00000000000000000', name: 'frank', orgs: [{ name: 'cognitia', roleInOrg: 'read' }] },
    ],
  })
  folder = await makeSpaceFolder()
})

afterEach(async () => {
  await fake.close()
  await removeFolder(folder)
})

function manager(options: { token?: string; requestTimeoutMs?: number } = {}) {
  const logger = recordingLogger()
  const clock = instantClock()
  const spaces = new SpaceManager({
    token: options.token ?? fakeToken,
    hubUrl: fake.url,
    logger,
    clock,
    requestTimeoutMs: options.requestTimeoutMs ?? 5000,
    logTail: { idleMs: 200, totalMs: 2000 },
  })
  return { spaces, logger, clock }
}

function writes() {
  return fake.state.requests.filter((r) => r.method !== 'GET')
}

async function createdSpace() {
  const { spaces } = manager()
  await spaces.ensureSpace({ spaceId, private: true, sdk: 'gradio' })
  return fake.state.spaces.get(spaceId)
}

describe('spaceUrls', () => {
  it('lower-cases and turns dots and underscores into hyphens', () => {
    const { spaces } = manager()
    expect(spaces.spaceUrls('Cognitia_AI/Zero.Llama_2')).toEqual({
      spaceUrl: 'https://huggingface.co/spaces/Cognitia_AI/Zero.Llama_2',
      apiBaseUrl: 'https://cognitia-ai-zero-llama-2.hf.space',
    })
  })

  it('rejects ids that are not owner/name', () => {
    const { spaces } = manager()
    for (const bad of ['zerollama', 'a/b/c', '/x', 'a/../b', 'a b/c']) {
      expect(() => spaces.spaceUrls(bad)).toThrow(ConfigurationError)
    }
  })
})

describe('preflight', () => {
  it('accepts a write token for the user and for their orgs', async () => {
    const { spaces } = manager()
    await expect(spaces.preflight(spaceId)).resolves.toEqual({ user: 'alice', owner: 'alice' })
    await expect(spaces.preflight('cognitia/zerollama')).resolves.toEqual({ user: 'alice', owner: 'cognitia' })
  })

  it('turns 401 into a ConfigurationError without echoing the token', async () => {
    const bad = 'hf_revokedToken11111111111111111111'
    const error = await manager({ token: bad })
      .spaces.preflight(spaceId)
      .catch((e) => e)
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error.message).toMatch(/rejected hf-token \(401\).*settings\/tokens/)
    expect(error.message).not.toContain(bad)
  })

  it('refuses a read token, a fine-grained token without write on the owner, and an org reader', async () => {
    await expect(manager({ token: 'hf_readOnlyToken000000000000000000' }).spaces.preflight('bob/x')).rejects.toThrow(
      /cannot write to bob's repos \(token role: read\)/,
    )
    const carol = manager({ token: 'hf_fineGrainedToken00000000000000' }).spaces
    await expect(carol.preflight('carol/x')).resolves.toEqual({ user: 'carol', owner: 'carol' })
    await expect(
      manager({ token: 'hf_orgReaderToken00000000000000000' }).spaces.preflight('cognitia/x'),
    ).rejects.toThrow(/only read access in org cognitia/)
  })

  it('names the owners the token may use when the Space belongs to someone else', async () => {
    await expect(manager().spaces.preflight('mallory/x')).rejects.toThrow(/choose an owner among alice, cognitia/)
  })

  it('retries a 429 honouring Retry-After, and gives up on a hanging Hub with a timeout error', async () => {
    fake.fail({ path: '/api/whoami-v2', status: 429, retryAfter: '7' })
    const { spaces, clock, logger } = manager()
    await spaces.preflight(spaceId)
    expect(clock.sleeps).toEqual([7000])
    expect(logger.lines.some((l) => l.includes('answered 429') && l.includes('retry 1 in 7 s'))).toBe(true)

    fake.fail({ path: '/api/whoami-v2', hang: true, times: 10 })
    const error = await manager({ requestTimeoutMs: 150 })
      .spaces.preflight(spaceId)
      .catch((e) => e)
    expect(error).toBeInstanceOf(ServiceError)
    expect(error.message).toMatch(/GET \/api\/whoami-v2 got no answer within 0.15 s/)
    expect(fake.state.requests.filter((r) => r.path === '/api/whoami-v2')).toHaveLength(1 + 1 + 4)
  })
})

describe('ensureSpace', () => {
  it('creates a private Space once, then finds it', async () => {
    const { spaces } = manager()
    await expect(spaces.ensureSpace({ spaceId, private: true, sdk: 'gradio' })).resolves.toEqual({
      created: true,
      sdk: 'gradio',
    })
    await expect(spaces.ensureSpace({ spaceId, private: true, sdk: 'gradio' })).resolves.toEqual({
      created: false,
      sdk: 'gradio',
    })
    const space = fake.state.spaces.get(spaceId)
    expect(space).toMatchObject({ private: true, sdk: 'gradio', stage: 'NO_APP_FILE' })
    expect(fake.state.requests.filter((r) => r.path === '/api/repos/create')).toHaveLength(1)
  })

  it('treats 409 (created concurrently) as existing', async () => {
    fake.fail({
      method: 'POST',
      path: '/api/repos/create',
      status: 409,
      message: 'You already created this space repo',
    })
    await expect(manager().spaces.ensureSpace({ spaceId, private: true, sdk: 'gradio' })).resolves.toEqual({
      created: false,
      sdk: 'gradio',
    })
  })

  it('explains a 402 (Gradio/Docker Spaces need a paid plan)', async () => {
    const erin = manager({ token: 'hf_noSpacesToken00000000000000000' }).spaces
    await expect(erin.ensureSpace({ spaceId: 'erin/z', private: true, sdk: 'gradio' })).rejects.toThrow(
      /402 Payment Required.*paid plan \(PRO, Team or Enterprise\)/,
    )
  })

  it('reads back a create whose reply was lost instead of repeating it', async () => {
    fake.fail({ method: 'POST', path: '/api/repos/create', status: 502, afterApply: true })
    await expect(manager().spaces.ensureSpace({ spaceId, private: true, sdk: 'gradio' })).resolves.toEqual({
      created: true,
      sdk: 'gradio',
    })
    expect(fake.state.requests.filter((r) => r.path === '/api/repos/create')).toHaveLength(1)
  })

  it('does not hide a 5xx create that did not happen', async () => {
    fake.fail({ method: 'POST', path: '/api/repos/create', status: 503 })
    await expect(manager().spaces.ensureSpace({ spaceId, private: true, sdk: 'gradio' })).rejects.toThrow(
      /answered 503.*re-run the job later/,
    )
    expect(fake.state.spaces.has(spaceId)).toBe(false)
  })

  it('makes an existing public Space private when asked', async () => {
    await manager().spaces.ensureSpace({ spaceId, private: false, sdk: 'gradio' })
    await manager().spaces.ensureSpace({ spaceId, private: true, sdk: 'gradio' })
    expect(fake.state.spaces.get(spaceId)?.private).toBe(true)
  })
})

describe('uploadSpaceFolder', () => {
  it('commits the folder once, LFS for binary files, and skips clutter', async () => {
    await createdSpace()
    const { spaces } = manager()
    const first = await spaces.uploadSpaceFolder({ spaceId, folder, commitMessage: 'Deploy run 42' })
    const space = fake.state.spaces.get(spaceId)
    expect(first).toEqual({ commitSha: space?.sha, changed: true })
    expect(space?.commits).toHaveLength(1)
    expect(space?.commits[0]?.title).toBe('Deploy run 42')
    expect([...(space?.files.keys() ?? [])].sort()).toEqual([
      '.gitattributes',
      'Dockerfile',
      'README.md',
      'app.py',
      'assets/logo.bin',
      'requirements.txt',
      'zerollama/__init__.py',
      'zerollama/server.py',
    ])
    expect(space?.files.get('assets/logo.bin')?.lfsOid).toMatch(/^[0-9a-f]{64}$/)
    expect(space?.files.get('app.py')?.content.toString()).toBe(await readFile(join(folder, 'app.py'), 'utf8'))
  })

  it('makes no commit when every file already matches (LFS included)', async () => {
    await createdSpace()
    const { spaces, logger } = manager()
    const first = await spaces.uploadSpaceFolder({ spaceId, folder, commitMessage: 'one' })
    const before = fake.state.requests.length
    const second = await spaces.uploadSpaceFolder({ spaceId, folder, commitMessage: 'two' })
    expect(second).toEqual({ commitSha: first.commitSha, changed: false })
    expect(fake.state.spaces.get(spaceId)?.commits).toHaveLength(1)
    expect(fake.state.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([])
    expect(logger.lines).toContain(`all 7 files already match ${first.commitSha.slice(0, 12)}; no commit`)
  })

  it('uploads only the changed file and deletes files gone from the folder', async () => {
    await createdSpace()
    const { spaces } = manager()
    await spaces.uploadSpaceFolder({ spaceId, folder, commitMessage: 'one' })
    await writeFile(join(folder, 'app.py'), 'print("v2")\n')
    await rm(join(folder, 'requirements.txt'))
    await spaces.uploadSpaceFolder({ spaceId, folder, commitMessage: 'two' })
    const space = fake.state.spaces.get(spaceId)
    expect(space?.commits[1]).toMatchObject({ added: ['app.py'], deleted: ['requirements.txt'] })
    expect(space?.files.get('app.py')?.content.toString()).toBe('print("v2")\n')
    expect(space?.files.has('.gitattributes')).toBe(true)
  })

  it('rewrites the README front matter for the docker runtime', async () => {
    await createdSpace()
    await manager().spaces.uploadSpaceFolder({ spaceId, folder, commitMessage: 'docker', sdk: 'docker' })
    const readme = fake.state.spaces.get(spaceId)?.files.get('README.md')?.content.toString() ?? ''
    expect(readme).toMatch(/^---\ntitle: zerollama\n/)
    expect(readme).toContain('sdk: docker\napp_port: 11434\n---\n')
    expect(readme).not.toMatch(/sdk: gradio|sdk_version|app_file|python_version/)
    expect(readme).toContain('tags:\n  - ollama\n  - zerogpu\n')
    expect(readme).toContain('# zerollama')
  })

  it("uses the folder's own Docker README for the docker runtime when it has one, and skips tests/", async () => {
    await createdSpace()
    const dockerReadme = '---\ntitle: zerollama (Ollama)\nsdk: docker\napp_port: 7860\n---\nReal Ollama.\n'
    await mkdir(join(folder, 'docker'), { recursive: true })
    await writeFile(join(folder, 'docker/space-readme.md'), dockerReadme)
    await mkdir(join(folder, 'tests'), { recursive: true })
    await writeFile(join(folder, 'tests/test_app.py'), 'def test(): pass\n')
    await manager().spaces.uploadSpaceFolder({ spaceId, folder, commitMessage: 'docker', sdk: 'docker' })
    const files = fake.state.spaces.get(spaceId)?.files
    expect(files?.get('README.md')?.content.toString()).toBe(dockerReadme)
    expect(files?.has('tests/test_app.py')).toBe(false)
  })

  it('refuses a Docker README that does not declare the docker SDK', async () => {
    await mkdir(join(folder, 'docker'), { recursive: true })
    await writeFile(join(folder, 'docker/space-readme.md'), '---\nsdk: gradio\n---\n')
    await expect(
      manager().spaces.uploadSpaceFolder({ spaceId, folder, commitMessage: 'x', sdk: 'docker' }),
    ).rejects.toThrow(/space-readme.md must declare sdk: docker/)
  })

  it('refuses a README that is not a Gradio Space for ZeroGPU', async () => {
    await createdSpace()
    await writeFile(join(folder, 'README.md'), '---\nsdk: docker\n---\n')
    await expect(manager().spaces.uploadSpaceFolder({ spaceId, folder, commitMessage: 'x' })).rejects.toThrow(
      /declares sdk: docker; ZeroGPU runs only Gradio Spaces/,
    )
  })

  it('reads back a commit whose reply was lost: one commit, reported as changed', async () => {
    await createdSpace()
    fake.fail({ method: 'POST', path: /\/commit\/main$/, status: 500, afterApply: true })
    const result = await manager().spaces.uploadSpaceFolder({ spaceId, folder, commitMessage: 'lost reply' })
    const space = fake.state.spaces.get(spaceId)
    expect(space?.commits).toHaveLength(1)
    expect(result).toEqual({ commitSha: space?.sha, changed: true })
    expect(fake.state.requests.filter((r) => r.path.endsWith('/commit/main'))).toHaveLength(1)
  })

  it('fails a commit that did not land, without retrying it', async () => {
    await createdSpace()
    fake.fail({ method: 'POST', path: /\/commit\/main$/, status: 500 })
    await expect(manager().spaces.uploadSpaceFolder({ spaceId, folder, commitMessage: 'x' })).rejects.toThrow(
      /commit\/main answered 500/,
    )
    expect(fake.state.spaces.get(spaceId)?.commits).toHaveLength(0)
    expect(fake.state.requests.filter((r) => r.path.endsWith('/commit/main'))).toHaveLength(1)
  })

  it('tells the operator to re-run when the Space moved on during the upload (412)', async () => {
    await createdSpace()
    fake.fail({ method: 'POST', path: /\/commit\/main$/, status: 412 })
    await expect(manager().spaces.uploadSpaceFolder({ spaceId, folder, commitMessage: 'x' })).rejects.toThrow(
      /received another commit during the upload — re-run the job/,
    )
  })

  it('hashes files exactly as the Hub reports them', () => {
    expect(gitOid(Buffer.from('hello\n'))).toBe('ce013625030ba8dba906f756967f9e9ca394464a')
  })
})

describe('hardware, secrets and variables', () => {
  it('requests ZeroGPU once', async () => {
    await createdSpace()
    const { spaces } = manager()
    await expect(spaces.setHardware(spaceId, 'zero-a10g')).resolves.toEqual({ changed: true })
    await expect(spaces.setHardware(spaceId, 'zero-a10g')).resolves.toEqual({ changed: false })
    expect(fake.state.spaces.get(spaceId)?.hardware.requested).toBe('zero-a10g')
    expect(fake.state.requests.filter((r) => r.path.endsWith('/hardware'))).toHaveLength(1)
  })

  it('turns 402 for ZeroGPU into what to do, and 402 for paid hardware into billing advice', async () => {
    const dave = manager({ token: 'hf_freeAccountToken00000000000000' }).spaces
    await dave.ensureSpace({ spaceId: 'dave/z', private: true, sdk: 'gradio' })
    const zero = await dave.setHardware('dave/z', 'zero-a10g').catch((e) => e)
    expect(zero).toBeInstanceOf(ConfigurationError)
    expect(zero.message).toMatch(/refused ZeroGPU hardware for dave\/z \(402\).*PRO.*runtime: docker/)
    await expect(dave.setHardware('dave/z', 'l4x1')).rejects.toThrow(/settings\/billing.*runtime: zerogpu/)
    expect(fake.state.spaces.get('dave/z')?.hardware.requested).toBe('cpu-basic')
  })

  it('sets secrets once, by fingerprint, and never logs their values', async () => {
    await createdSpace()
    const secret = 'hf_spaceReadToken999999999999999999'
    const { spaces, logger } = manager()
    await expect(spaces.setSecrets(spaceId, { HF_TOKEN: secret, ZEROLLAMA_API_KEY: 'k-1' })).resolves.toEqual({
      changed: ['HF_TOKEN', 'ZEROLLAMA_API_KEY'],
    })
    await expect(spaces.setSecrets(spaceId, { HF_TOKEN: secret, ZEROLLAMA_API_KEY: 'k-1' })).resolves.toEqual({
      changed: [],
    })
    await expect(spaces.setSecrets(spaceId, { HF_TOKEN: secret, ZEROLLAMA_API_KEY: 'k-2' })).resolves.toEqual({
      changed: ['ZEROLLAMA_API_KEY'],
    })
    const space = fake.state.spaces.get(spaceId)
    expect(space?.secrets.get('HF_TOKEN')?.value).toBe(secret)
    expect(space?.secrets.get('ZEROLLAMA_API_KEY')?.value).toBe('k-2')
    expect(space?.secrets.get('HF_TOKEN')?.description).not.toContain(secret)
    expect(logger.lines.join('\n')).not.toMatch(/hf_spaceRead|k-1|k-2/)
  })

  it('reads back a secret write whose reply was lost', async () => {
    await createdSpace()
    fake.fail({ method: 'POST', path: /\/secrets$/, status: 504, afterApply: true })
    await expect(manager().spaces.setSecrets(spaceId, { ZEROLLAMA_API_KEY: 'k' })).resolves.toEqual({
      changed: ['ZEROLLAMA_API_KEY'],
    })
    expect(fake.state.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/secrets'))).toHaveLength(1)
  })

  it('waits out a 429 on a write, then sends it once more', async () => {
    await createdSpace()
    fake.fail({ method: 'POST', path: /\/variables$/, status: 429, retryAfter: '3' })
    const { spaces, clock } = manager()
    await expect(spaces.setVariables(spaceId, { OLLAMA_KEEP_ALIVE: '5m' })).resolves.toEqual({
      changed: ['OLLAMA_KEEP_ALIVE'],
    })
    expect(clock.sleeps).toEqual([3000])
    expect(fake.state.spaces.get(spaceId)?.variables.get('OLLAMA_KEEP_ALIVE')?.value).toBe('5m')
    await expect(spaces.setVariables(spaceId, { OLLAMA_KEEP_ALIVE: '5m' })).resolves.toEqual({ changed: [] })
  })
})

describe('a Hub that keeps rate limiting', () => {
  it('gives up after three tries and quotes the wait the Hub asked for', async () => {
    await createdSpace()
    fake.fail({ method: 'POST', path: /\/variables$/, status: 429, retryAfter: '1', times: 3 })
    const { spaces } = manager()
    await expect(spaces.setVariables(spaceId, { OLLAMA_KEEP_ALIVE: '5m' })).rejects.toThrow(
      /answered 429.* — wait 1 s \(as the server asked\), then re-run/,
    )
  })
})

describe('getRuntime and waitUntilRunning', () => {
  it('streams stage changes to RUNNING after an upload', async () => {
    await createdSpace()
    const { spaces, logger } = manager()
    await spaces.setHardware(spaceId, 'zero-a10g')
    await spaces.uploadSpaceFolder({ spaceId, folder, commitMessage: 'x' })
    const runtime = await spaces.waitUntilRunning(spaceId, { timeoutMs: 60_000, expectChange: true })
    expect(runtime).toEqual({ stage: 'RUNNING', hardware: { current: 'zero-a10g', requested: 'zero-a10g' } })
    expect(logger.lines.filter((l) => l.startsWith('stage '))).toEqual([
      'stage — → BUILDING (hardware zero-a10g)',
      'stage BUILDING → APP_STARTING (hardware zero-a10g)',
      'stage APP_STARTING → RUNNING (hardware zero-a10g)',
    ])
  })

  it('throws BUILD_ERROR with the tail of the build log', async () => {
    await createdSpace()
    const buildLog = Array.from({ length: 40 }, (_, i) => `step ${i + 1}`)
    buildLog.push('ERROR: No matching distribution found for torch==9.9')
    fake.setOutcome(spaceId, { stage: 'BUILD_ERROR', errorMessage: 'Build failed with exit code: 1', buildLog })
    const { spaces } = manager()
    await spaces.uploadSpaceFolder({ spaceId, folder, commitMessage: 'x' })
    const error = await spaces.waitUntilRunning(spaceId, { timeoutMs: 60_000, expectChange: true }).catch((e) => e)
    expect(error).toBeInstanceOf(ServiceError)
    expect(error.message).toContain('alice/zerollama stopped at BUILD_ERROR: Build failed with exit code: 1')
    expect(error.message).toContain('?logs=build')
    expect(error.message).toContain('last 30 lines of the build log:\nstep 12\n')
    expect(error.message).toMatch(/step 40\nERROR: No matching distribution found for torch==9.9$/)
    expect(error.message).not.toContain('step 11\n')
  })

  it('throws RUNTIME_ERROR with the run log', async () => {
    await createdSpace()
    fake.setOutcome(spaceId, {
      stage: 'RUNTIME_ERROR',
      runLog: ['Traceback', 'RuntimeError: CUDA must not be initialized'],
    })
    const { spaces } = manager()
    await spaces.uploadSpaceFolder({ spaceId, folder, commitMessage: 'x' })
    await expect(spaces.waitUntilRunning(spaceId, { timeoutMs: 60_000, expectChange: true })).rejects.toThrow(
      /stopped at RUNTIME_ERROR[\s\S]*run log:\nTraceback\nRuntimeError: CUDA must not be initialized$/,
    )
  })

  it('does not trust a stale settled stage right after a change, and times out with a deadline', async () => {
    await createdSpace()
    fake.setStage(spaceId, 'BUILD_ERROR')
    const { spaces } = manager()
    const error = await spaces.waitUntilRunning(spaceId, { timeoutMs: 20_000, expectChange: true }).catch((e) => e)
    expect(error.message).toMatch(/gave up waiting for alice\/zerollama to run after 20 s/)
  })

  it('retries runtime reads through 5xx', async () => {
    await createdSpace()
    fake.fail({ path: /\/runtime$/, status: 503, times: 2 })
    const { spaces, clock } = manager()
    await expect(spaces.getRuntime(spaceId)).resolves.toMatchObject({ stage: 'NO_APP_FILE' })
    expect(clock.sleeps).toEqual([1000, 2000])
  })
})

describe('a fine-grained user', () => {
  it('can run the whole sequence on its own namespace', async () => {
    const carol: FakeUser | undefined = fake.state.users.find((u) => u.name === 'carol')
    const { spaces } = manager({ token: carol?.token })
    await spaces.preflight('carol/z')
    await spaces.ensureSpace({ spaceId: 'carol/z', private: true, sdk: 'gradio' })
    await spaces.uploadSpaceFolder({ spaceId: 'carol/z', folder, commitMessage: 'x' })
    expect(fake.state.spaces.get('carol/z')?.commits).toHaveLength(1)
    expect(writes().length).toBeGreaterThan(0)
  })
})
