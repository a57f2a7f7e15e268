/**
 * The PR plan against the contract fakes of all three outside systems: the HF Hub (read token), the
 * Railway GraphQL endpoint and GitHub's issue comments. Nothing real is called.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { ConfigurationError } from '../../src/errors.js'
import { IssueComments, nextPage } from '../../src/github/issue-comments.js'
import { deploySpace } from '../../src/hf/deploy.js'
import { SpaceManager } from '../../src/hf/space-manager.js'
import { recordingLogger } from '../../src/logger.js'
import { publishComment } from '../../src/plan/comment.js'
import { type PlanRequest, planMigration } from '../../src/plan/plan.js'
import { PLAN_MARKER, renderPlan } from '../../src/plan/render.js'
import { MigrateWorkflow } from '../../src/plan/workflow.js'
import { GITHUB, type GitHubFake, startGitHubFake } from '../fakes/github.js'
import { defaultUser, fakeToken, type HfFake, startHfFake } from '../fakes/hf.js'
import { COGNITIA, type RailwayFake, startRailwayFake } from '../fakes/railway.js'
import { instantClock } from '../support/clock.js'
import { makePlanRoot, removePlanRoot, withApiKeyAndVariable } from '../support/plan-root.js'

const spaceId = 'cognitia/zerollama'
const readToken = 'hf_fakeReadTokenForPlans0123456789ab'
const apiKey = 'zk-live-shared-key-never-shown-77'
const pr = { owner: GITHUB.owner, repo: GITHUB.repo, number: 42 }

let hf: HfFake
let railway: RailwayFake
let gh: GitHubFake
let root: string

beforeEach(async () => {
  hf = await startHfFake({
    users: [defaultUser, { token: readToken, name: 'alice', orgs: [{ name: 'cognitia' }], role: 'read' }],
  })
  railway = await startRailwayFake()
  gh = await startGitHubFake()
  root = await makePlanRoot(withApiKeyAndVariable)
})

afterEach(async () => {
  await Promise.all([hf.close(), railway.close(), gh.close(), removePlanRoot(root)])
})

/** The live Space as a previous migrate left it: every fixture file, the shared key, then cpu-basic by hand. */
async function deployLiveSpace(): Promise<void> {
  const logger = recordingLogger()
  const manager = new SpaceManager({ token: fakeToken, hubUrl: hf.url, logger, clock: instantClock() })
  await deploySpace(
    manager,
    {
      spaceId,
      private: true,
      runtime: 'zerogpu',
      hardware: 'zero-a10g',
      folder: join(root, 'space'),
      secrets: { ZEROLLAMA_API_KEY: apiKey },
      variables: {},
      commitMessage: 'Deploy space/',
      waitTimeoutMs: 60_000,
      dryRun: false,
    },
    logger,
  )
  const space = hf.state.spaces.get(spaceId)
  if (!space) throw new Error('the fake holds no Space')
  space.hardware.requested = 'cpu-basic'
}

function request(overrides: Partial<PlanRequest> = {}): PlanRequest {
  return {
    root,
    workflow: MigrateWorkflow.read(root),
    spaceId,
    hfToken: readToken,
    hubUrl: hf.url,
    railway: { token: COGNITIA.projectToken, tokenKind: 'project', endpoint: railway.url },
    fork: false,
    ...overrides,
  }
}

async function renderedPlan(overrides: Partial<PlanRequest> = {}, sha = 'aaaaaaaaaaaa1111') {
  const logger = recordingLogger()
  const plan = await planMigration(request(overrides), logger)
  return { plan, body: renderPlan(plan, { sha }), logger }
}

function comments() {
  return new IssueComments({ token: GITHUB.token, apiUrl: gh.url, logger: recordingLogger() })
}

describe('the rendered plan', () => {
  it('lists the files that differ by hash, the hardware, secret and variable names, Railway old → new and the thresholds', async () => {
    await deployLiveSpace()
    await writeFile(join(root, 'space', 'app.py'), 'print("v2")\n')
    await writeFile(join(root, 'space', 'zerollama', 'new.py'), 'X = 1\n')
    await rm(join(root, 'space', 'requirements.txt'))
    const before = hf.state.requests.length
    const { plan, body } = await renderedPlan()
    if (process.env.SHOW_PLAN) await writeFile(process.env.SHOW_PLAN, body)

    expect(plan.phases.map((p) => [p.phase, p.mode])).toEqual([
      ['create-space', 'live'],
      ['validate', 'static'],
      ['switch', 'live'],
    ])
    expect(body.startsWith(`${PLAN_MARKER}\n`)).toBe(true)
    expect(body).toContain('Files that differ from the live Space by hash (3 of 7)')
    expect(body).toContain('- `app.py` — changed')
    expect(body).toContain('- `zerollama/new.py` — new')
    expect(body).toContain('- `requirements.txt` — deleted')
    expect(body).not.toContain('`README.md`')
    expect(body).toContain('| Hardware | cpu-basic → zero-a10g |')
    expect(body).toContain('| Visibility | private (unchanged) |')
    expect(body).toMatch(/Space secrets to set \(names only\)\*\*\n\n- `ZEROLLAMA_API_KEY`/)
    expect(body).toMatch(/Space variables to set \(names only\)\*\*\n\n- `OLLAMA_KEEP_ALIVE`/)
    expect(body).toContain(`| OLLAMA_BASE_URL | ${COGNITIA.ollamaUrl} | https://cognitia-zerollama.hf.space |`)
    expect(body).toContain(`ZEROLLAMA_PREVIOUS_OLLAMA_BASE_URL: (unset) → ${COGNITIA.ollamaUrl}`)
    expect(body).toContain('OLLAMA_HF_TOKEN: set (value from the run; a plan never sees it)')
    expect(body).toContain('| Time to first token (warm), per model | &lt; 1000 ms |')
    expect(body).toContain('| Generation speed, per model | &gt; 50 tokens/s |')
    expect(body).toContain('| Device | gpu |')
    expect(body).toContain('| Models present | qwen2.5:7b, phi3, codellama:7b |')
    // Names only: no value of a Space secret, a Railway variable or a token.
    for (const secret of [apiKey, readToken, COGNITIA.projectToken, COGNITIA.databaseUrl, COGNITIA.sessionSecret]) {
      expect(body).not.toContain(secret)
    }
    expect(body).not.toContain('30m')
    // A plan reads: not one write reached the Hub or Railway.
    expect(hf.state.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([])
    const writes = ['UpsertVariables', 'DeployService', 'RemoveDeployment']
    expect(railway.state.calls.map((c) => c.operation).filter((op) => writes.includes(op))).toEqual([])
    expect(railway.state.calls.map((c) => c.operation)).toContain('ServiceVariables')
  })

  it('says so when the Space already holds every file and the hardware is right', async () => {
    await deployLiveSpace()
    const space = hf.state.spaces.get(spaceId)
    if (space) space.hardware.requested = 'zero-a10g'
    const { body } = await renderedPlan()
    expect(body).toContain('none: the Space already holds all 7 files (no commit, no rebuild)')
    expect(body).toContain('| Hardware | zero-a10g (unchanged) |')
  })

  it('plans a Space that does not exist yet as a creation, every file new', async () => {
    const { body } = await renderedPlan()
    expect(body).toContain('| Space | absent: migrate creates it |')
    expect(body).toContain('Files to upload (7 of 7)')
    expect(body).toContain('- `app.py` — new')
  })

  it('takes the thresholds and secret names from migrate.yml as it stands', async () => {
    await removePlanRoot(root)
    root = await makePlanRoot((t) =>
      t.replace('          target: space\n', '          target: space\n          ttft-ms-max: 750\n'),
    )
    const { body } = await renderedPlan()
    expect(body).toContain('| Time to first token (warm), per model | &lt; 750 ms |')
    expect(body).toContain('none (migrate.yml passes create-space no api-key or hf-read-token)')
  })

  it('escapes what the repository controls: a file name cannot write HTML or close its code span', async () => {
    await writeFile(join(root, 'space', 'x`<img src=y>`.py'), '')
    const { body } = await renderedPlan()
    expect(body).toContain('- ``x`<img src=y>`.py`` — new')
    expect(body.replace(/``[^\n]*``/g, '')).not.toContain('<img')
  })
})

describe('a fork PR, or no read tokens', () => {
  it('a fork PR without secrets shows the local-only plan and says so', async () => {
    await deployLiveSpace()
    const before = hf.state.requests.length
    const railwayCalls = railway.state.calls.length
    const { plan, body } = await renderedPlan({ hfToken: undefined, railway: { tokenKind: 'project' }, fork: true })
    expect(plan.phases.map((p) => [p.phase, p.mode])).toEqual([
      ['create-space', 'offline'],
      ['validate', 'static'],
      ['switch', 'offline'],
    ])
    expect(body).toContain('**Local-only plan.** This pull request comes from a fork')
    expect(body).toContain('GitHub gives workflows of fork PRs no secrets')
    expect(body).toContain('7 files make up the Space')
    expect(body).toContain('not known: the base commit is not in the checkout')
    expect(body).toContain('| Hardware | zero-a10g (the live value was not read) |')
    expect(body).toContain('| OLLAMA_BASE_URL | (not read) | https://cognitia-zerollama.hf.space |')
    expect(body).toContain('- `ZEROLLAMA_API_KEY`')
    expect(body).toContain('| Time to first token (warm), per model | &lt; 1000 ms |')
    expect(body).not.toContain('differ from the live Space')
    expect(hf.state.requests.length).toBe(before)
    expect(railway.state.calls.length).toBe(railwayCalls)
  })

  it('compares space/ with the base branch by hash when the checkout holds it (HEAD^1 of the merge)', async () => {
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', root, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { stdio: 'pipe' })
    git('init', '-q')
    git('add', '-A')
    git('commit', '-q', '-m', 'base')
    await writeFile(join(root, 'space', 'app.py'), 'print("from the PR")\n')
    await writeFile(join(root, 'space', 'zerollama', 'added.py'), 'Y = 2\n')
    await rm(join(root, 'space', 'requirements.txt'))
    await mkdir(join(root, 'space', 'tests'), { recursive: true })
    await writeFile(join(root, 'space', 'tests', 'test_new.py'), 'def test(): pass\n')
    git('add', '-A')
    git('commit', '-q', '-m', 'merge')
    const { body } = await renderedPlan({
      hfToken: undefined,
      railway: { tokenKind: 'project' },
      fork: true,
      baseRef: 'HEAD^1',
    })
    expect(body).toMatch(
      /Space files this PR changes, compared with its base branch \([0-9a-f]{12}\) by hash \(3 of 7\)/,
    )
    expect(body).toContain('- `app.py` — changed')
    expect(body).toContain('- `zerollama/added.py` — new')
    expect(body).toContain('- `requirements.txt` — deleted')
    expect(body).not.toContain('test_new.py')
    const unchanged = await renderedPlan({ hfToken: undefined, railway: { tokenKind: 'project' }, baseRef: 'HEAD' })
    expect(unchanged.body).toContain('none: this PR changes no file of the Space')
  })

  it('a fork PR that does get the secrets (a private repository may send them) plans live, without the banner', async () => {
    const { plan, body } = await renderedPlan({ fork: true })
    expect(plan.phases.map((p) => p.mode)).toEqual(['live', 'static', 'live'])
    expect(body).not.toContain('Local-only plan')
  })

  it('a branch PR without configured tokens names the secrets to set', async () => {
    const { body } = await renderedPlan({ hfToken: undefined, railway: { tokenKind: 'project' } })
    expect(body).toContain('**Partly local.**')
    expect(body).toContain('no HF_TOKEN_READ secret in the pr-plan environment')
    expect(body).toContain('no RAILWAY_TOKEN_READ secret in the pr-plan environment')
    expect(body).not.toContain('Local-only plan')
  })

  it('without a Space named, says which variable to set', async () => {
    const { body } = await renderedPlan({ spaceId: undefined })
    expect(body).toContain('set the repository variable ZEROLLAMA_SPACE')
  })
})

describe('wrong tokens', () => {
  it('a wrong HF or Railway token fails that phase with what to do, and the others still plan', async () => {
    const { plan, body } = await renderedPlan({
      hfToken: 'hf_notAValidToken000000000000000000',
      railway: { token: 'rw-wrong-token', tokenKind: 'project', endpoint: railway.url },
    })
    expect(plan.phases.map((p) => [p.phase, p.mode])).toEqual([
      ['create-space', 'failed'],
      ['validate', 'static'],
      ['switch', 'failed'],
    ])
    expect(plan.phases[0]?.note).toMatch(/rejected hf-token \(401\)/)
    expect(plan.phases[2]?.note).toMatch(/Railway/)
    expect(body).toContain('> [!WARNING]')
    expect(body).not.toContain('hf_notAValidToken')
    expect(body).not.toContain('rw-wrong-token')
  })

  it('a write token still plans, with a warning that a read token is enough', async () => {
    const { plan, logger } = await renderedPlan({ hfToken: fakeToken })
    expect(plan.phases[0]?.mode).toBe('live')
    expect(logger.lines).toContain('warning: hf-token has the write role; a plan only reads, so give it a read token')
  })

  it('a wrong GitHub token is a ConfigurationError saying which token to pass', async () => {
    const bad = new IssueComments({ token: 'ghs_wrong', apiUrl: gh.url, logger: recordingLogger() })
    const error = await publishComment(bad, pr, `${PLAN_MARKER}\nx`, PLAN_MARKER, recordingLogger()).catch((e) => e)
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(String(error)).toMatch(/rejected github-token \(401.*github\.token/)
    expect(gh.state.comments).toEqual([])
  })

  it("a fork PR's read-only token gets 403 with the reason", async () => {
    const readOnly = new IssueComments({ token: GITHUB.forkToken, apiUrl: gh.url, logger: recordingLogger() })
    const error = await publishComment(readOnly, pr, `${PLAN_MARKER}\nx`, PLAN_MARKER, recordingLogger()).catch(
      (e) => e,
    )
    expect(error).toMatchObject({ status: 403 })
    expect(String(error)).toMatch(/pull-requests: write.*fork/)
  })
})

describe('one comment per PR', () => {
  it('the first run creates one comment; a second run updates the same one', async () => {
    const first = await renderedPlan({}, '1111111111111111')
    const created = await publishComment(comments(), pr, first.body, PLAN_MARKER, recordingLogger())
    expect(created.action).toBe('created')
    expect(gh.state.commentsOf(pr.owner, pr.repo, pr.number)).toHaveLength(1)

    await writeFile(join(root, 'space', 'app.py'), 'print("pushed again")\n')
    const second = await renderedPlan({}, '2222222222222222')
    const updated = await publishComment(comments(), pr, second.body, PLAN_MARKER, recordingLogger())
    expect(updated).toMatchObject({ action: 'updated', comment: { id: created.comment.id } })
    const all = gh.state.commentsOf(pr.owner, pr.repo, pr.number)
    expect(all).toHaveLength(1)
    expect(all[0]?.body).toContain('(head 222222222222)')
    expect(all[0]?.user).toBe(GITHUB.bot)

    const third = await publishComment(comments(), pr, second.body, PLAN_MARKER, recordingLogger())
    expect(third.action).toBe('unchanged')
    expect(gh.state.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1)
  })

  it('finds its comment behind 250 others (three pages), and never touches a quote or another bot', async () => {
    const { body } = await renderedPlan()
    for (let i = 0; i < 120; i++) gh.state.addComment(pr.owner, pr.repo, pr.number, 'bob', `comment ${i}`)
    gh.state.addComment(pr.owner, pr.repo, pr.number, 'other-bot[bot]', `> ${PLAN_MARKER}\n> quoted plan`)
    gh.state.addComment(pr.owner, pr.repo, pr.number, 'other-bot[bot]', 'coverage: 91%')
    for (let i = 0; i < 130; i++) gh.state.addComment(pr.owner, pr.repo, pr.number, 'carol', `reply ${i}`)
    const first = await publishComment(comments(), pr, body, PLAN_MARKER, recordingLogger())
    expect(first.action).toBe('created')
    const second = await publishComment(comments(), pr, `${body}\nchanged`, PLAN_MARKER, recordingLogger())
    expect(second).toMatchObject({ action: 'updated', comment: { id: first.comment.id } })
    const all = gh.state.commentsOf(pr.owner, pr.repo, pr.number)
    expect(all.filter((c) => c.body.startsWith(PLAN_MARKER))).toHaveLength(1)
    expect(all.filter((c) => c.user === 'other-bot[bot]').map((c) => c.body)).toEqual([
      `> ${PLAN_MARKER}\n> quoted plan`,
      'coverage: 91%',
    ])
    // 253 comments before the second run's list: pages of 100 were followed to the third.
    const pages = gh.state.requests.filter((r) => r.method === 'GET').map((r) => r.path)
    expect(pages.length).toBe(6)
  })

  it('a pagination checker that ignored Link would be caught: the plan comment sits on page 3', async () => {
    for (let i = 0; i < 230; i++) gh.state.addComment(pr.owner, pr.repo, pr.number, 'bob', `comment ${i}`)
    const planned = gh.state.addComment(pr.owner, pr.repo, pr.number, GITHUB.bot, `${PLAN_MARKER}\nold plan`)
    const listed = await comments().list(pr)
    expect(listed).toHaveLength(231)
    const result = await publishComment(comments(), pr, `${PLAN_MARKER}\nnew plan`, PLAN_MARKER, recordingLogger())
    expect(result).toMatchObject({ action: 'updated', comment: { id: planned.id } })
    expect(
      nextPage('<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=3>; rel="last"'),
    ).toBe('https://api.github.com/x?page=2')
    expect(nextPage('<https://api.github.com/x?page=3>; rel="last"')).toBeUndefined()
  })

  it('retries a 502 on the list, and a 500 on create is not retried (a write is never repeated blindly)', async () => {
    const client = new IssueComments({
      token: GITHUB.token,
      apiUrl: gh.url,
      logger: recordingLogger(),
      clock: instantClock(),
    })
    gh.fail({ method: 'GET', path: /comments$/, status: 502 })
    expect(await client.list(pr)).toEqual([])
    gh.fail({ method: 'POST', path: /comments$/, status: 500 })
    await expect(publishComment(client, pr, `${PLAN_MARKER}\nx`, PLAN_MARKER, recordingLogger())).rejects.toThrow(
      /answered 500/,
    )
    expect(gh.state.requests.filter((r) => r.method === 'POST')).toHaveLength(1)
  })
})

describe('actions/pr-plan', () => {
  const dir = new URL('../../actions/pr-plan/', import.meta.url)
  const readme = readFileSync(new URL('README.md', dir), 'utf8')
  const actionYml = parse(readFileSync(new URL('action.yml', dir), 'utf8')) as {
    inputs: Record<string, { required?: boolean; default?: string }>
    outputs: Record<string, unknown>
  }

  it('documents every input with its action.yml default, and every output, in README.md', () => {
    for (const [name, spec] of Object.entries(actionYml.inputs)) {
      const row = new RegExp(`^\\|\\s*\`${name}\`\\s*\\|\\s*(yes|no)\\s*\\|([^|]*)\\|`, 'm').exec(readme)
      expect(row, name).not.toBeNull()
      const documented = (row?.[2] ?? '').trim().replace(/^`(.*)`$/, '$1')
      expect(documented === "''" ? '' : documented, name).toBe(spec.default ?? '')
      expect(row?.[1] === 'yes', name).toBe(Boolean(spec.required))
    }
    for (const name of Object.keys(actionYml.outputs))
      expect(readme).toMatch(new RegExp(`^\\|\\s*\`${name}\`\\s*\\|`, 'm'))
  })

  it('reads every input main.ts names, and names every input action.yml declares', async () => {
    const { INPUT, OUTPUT } = await import('../../actions/pr-plan/src/main.js')
    expect(Object.values(INPUT).sort()).toEqual(Object.keys(actionYml.inputs).sort())
    expect(Object.values(OUTPUT).sort()).toEqual(Object.keys(actionYml.outputs).sort())
  })
})
