/**
 * The committed pr-plan bundle as ci.yml's plan job runs it: a fixture pull_request event, the
 * action.yml defaults, and the HF, Railway and GitHub contract fakes behind the usual endpoint
 * variables. Nothing real is called.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { deploySpace } from '../../src/hf/deploy.js'
import { SpaceManager } from '../../src/hf/space-manager.js'
import { recordingLogger } from '../../src/logger.js'
import { PLAN_MARKER } from '../../src/plan/render.js'
import { GITHUB, type GitHubFake, startGitHubFake } from '../fakes/github.js'
import { defaultUser, fakeToken, type HfFake, startHfFake } from '../fakes/hf.js'
import { COGNITIA, type RailwayFake, startRailwayFake } from '../fakes/railway.js'
import { instantClock } from '../support/clock.js'
import { makePlanRoot, removePlanRoot } from '../support/plan-root.js'
import { type ActionRun, runAction } from '../support/run-action.js'

const fixtures = new URL('../fixtures/', import.meta.url).pathname
const spaceId = 'cognitia/zerollama'
const readToken = 'hf_fakeReadTokenForPlans0123456789ab'

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
  root = await makePlanRoot()
  const logger = recordingLogger()
  await deploySpace(
    new SpaceManager({ token: fakeToken, hubUrl: hf.url, logger, clock: instantClock() }),
    {
      spaceId,
      private: true,
      runtime: 'zerogpu',
      hardware: 'zero-a10g',
      folder: join(root, 'space'),
      secrets: {},
      variables: {},
      commitMessage: 'Deploy space/',
      waitTimeoutMs: 60_000,
      dryRun: false,
    },
    logger,
  )
})

afterEach(async () => {
  await Promise.all([hf.close(), railway.close(), gh.close(), removePlanRoot(root)])
})

function plan(event: string, inputs: Record<string, string>): Promise<ActionRun> {
  return runAction(
    'pr-plan',
    { space: spaceId, ...inputs },
    {
      GITHUB_EVENT_NAME: 'pull_request',
      GITHUB_EVENT_PATH: join(fixtures, event),
      GITHUB_REPOSITORY: `${GITHUB.owner}/${GITHUB.repo}`,
      GITHUB_API_URL: gh.url,
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_RUN_ID: '7001',
      GITHUB_WORKSPACE: root,
      HF_ENDPOINT: hf.url,
      RAILWAY_API_URL: railway.url,
    },
  )
}

const branchInputs = {
  'github-token': GITHUB.token,
  'hf-token': readToken,
  'railway-token': COGNITIA.projectToken,
}

/** What the runner would show or keep, the mask commands themselves left out. */
function visible(result: ActionRun): string {
  const printed = result.output
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n')
  return [printed, result.summary, JSON.stringify(result.outputs)].join('\n')
}

const secrets = [readToken, COGNITIA.projectToken, GITHUB.token, GITHUB.forkToken, COGNITIA.databaseUrl]

describe('pr-plan dist bundle', () => {
  it('a branch PR: the first run creates one comment, a run after another push updates that same comment', async () => {
    const first = await plan('pull_request.synchronize.json', branchInputs)
    expect(first.exitCode, first.output).toBe(0)
    const comments = () => gh.state.commentsOf(GITHUB.owner, GITHUB.repo, 42)
    expect(comments()).toHaveLength(1)
    const [created] = comments()
    expect(created?.body.startsWith(PLAN_MARKER)).toBe(true)
    expect(created?.body).toContain('(head 4f3c2b1a0e9d)')
    expect(created?.body).toContain('none: the Space already holds all 7 files')
    expect(created?.body).toContain(`| OLLAMA_BASE_URL | ${COGNITIA.ollamaUrl} | https://cognitia-zerollama.hf.space |`)
    expect(created?.body).toContain('[workflow run](https://github.com/cognitia/zerollama/actions/runs/7001)')
    expect(first.outputs).toEqual({
      'local-only': 'false',
      'comment-url': expect.stringContaining(`#issuecomment-${created?.id}`),
    })
    expect(first.summary).toContain(PLAN_MARKER)

    gh.state.addComment(GITHUB.owner, GITHUB.repo, 42, 'other-bot[bot]', 'coverage: 91%')
    await writeFile(join(root, 'space', 'app.py'), 'print("second push")\n')
    const second = await plan('pull_request.synchronize.json', branchInputs)
    expect(second.exitCode, second.output).toBe(0)
    const after = comments().filter((c) => c.user === GITHUB.bot)
    expect(after).toHaveLength(1)
    expect(after[0]?.id).toBe(created?.id)
    expect(after[0]?.body).toContain('- `app.py` — changed')
    expect(second.outputs['comment-url']).toBe(first.outputs['comment-url'])
    expect(second.output).toContain(`updated plan comment ${created?.id} on #42`)

    for (const run of [first, second]) {
      for (const token of [readToken, COGNITIA.projectToken, GITHUB.token])
        expect(run.output).toContain(`::add-mask::${token}`)
    }
    for (const secret of secrets) {
      expect(visible(first)).not.toContain(secret)
      expect(visible(second)).not.toContain(secret)
      expect(after[0]?.body).not.toContain(secret)
    }
  })

  it('a fork PR without secrets: the local-only plan, saying so, in the summary; the read-only token cannot comment and the step still passes', async () => {
    const before = { hf: hf.state.requests.length, railway: railway.state.calls.length }
    const result = await plan('pull_request.fork.json', { 'github-token': GITHUB.forkToken })
    expect(result.exitCode, result.output).toBe(0)
    expect(result.outputs).toEqual({ 'local-only': 'true', 'comment-url': '' })
    expect(result.summary).toContain('**Local-only plan.** This pull request comes from a fork')
    expect(result.summary).toContain('| OLLAMA_BASE_URL | (not read) | https://cognitia-zerollama.hf.space |')
    expect(result.output).toMatch(/::warning::a PR from a fork gets a read-only GITHUB_TOKEN.*\(403\).*summary/)
    expect(gh.state.comments).toEqual([])
    expect(hf.state.requests.length).toBe(before.hf)
    expect(railway.state.calls.length).toBe(before.railway)
  })

  it('a fork PR where the repository hands forks a write token: the local-only plan is the comment', async () => {
    const result = await plan('pull_request.fork.json', { 'github-token': GITHUB.token })
    expect(result.exitCode, result.output).toBe(0)
    const [comment, ...rest] = gh.state.commentsOf(GITHUB.owner, GITHUB.repo, 43)
    expect(rest).toEqual([])
    expect(comment?.body).toContain('**Local-only plan.**')
    expect(comment?.body).toContain('GitHub gives workflows of fork PRs no secrets')
  })

  it('a wrong HF token fails the step with what to do, after posting the rest of the plan', async () => {
    const result = await plan('pull_request.synchronize.json', {
      ...branchInputs,
      'hf-token': 'hf_wrongTokenForPlans00000000000000',
    })
    expect(result.exitCode).toBe(1)
    expect(result.output).toMatch(/::error::could not plan create-space \(.*rejected hf-token \(401\)/)
    const [comment] = gh.state.commentsOf(GITHUB.owner, GITHUB.repo, 42)
    expect(comment?.body).toContain('> [!WARNING]')
    expect(comment?.body).toContain('| OLLAMA_BASE_URL |')
  })

  it('a wrong GitHub token and a push event are refused with the fix', async () => {
    const wrong = await plan('pull_request.synchronize.json', { ...branchInputs, 'github-token': 'ghs_notAToken' })
    expect(wrong.exitCode).toBe(1)
    expect(wrong.output).toMatch(/::error::GitHub rejected github-token \(401/)
    const push = await runAction('pr-plan', branchInputs, {
      GITHUB_EVENT_NAME: 'push',
      GITHUB_EVENT_PATH: join(fixtures, 'model-names.json'),
      GITHUB_REPOSITORY: `${GITHUB.owner}/${GITHUB.repo}`,
      GITHUB_WORKSPACE: root,
    })
    expect(push.exitCode).toBe(1)
    expect(push.output).toContain(
      '::error::this plan comments on a pull request, but the event is push: run it on: pull_request',
    )
    expect(gh.state.comments).toEqual([])
  })
})
