import * as core from '@actions/core'
import * as github from '@actions/github'
import { ConfigurationError } from '../../../src/errors.js'
import { IssueComments, type IssueRef } from '../../../src/github/issue-comments.js'
import { parseSpaceId } from '../../../src/hf/space-urls.js'
import { publishComment } from '../../../src/plan/comment.js'
import { planMigration } from '../../../src/plan/plan.js'
import { PLAN_MARKER, renderPlan } from '../../../src/plan/render.js'
import { MigrateWorkflow } from '../../../src/plan/workflow.js'
import { type RailwayTokenKind, TOKEN_KINDS } from '../../../src/railway/client.js'
import { redact } from '../../../src/secrets.js'
import { actionInputs, maskSecret, secretInput } from '../../common/inputs.js'
import { coreLogger, failRun } from '../../common/toolkit.js'

export const INPUT = {
  githubToken: 'github-token',
  space: 'space',
  hfToken: 'hf-token',
  railwayToken: 'railway-token',
  railwayTokenKind: 'railway-token-kind',
  railwayProject: 'railway-project',
  railwayEnvironment: 'railway-environment',
  railwayService: 'railway-service',
  ollamaService: 'ollama-service',
  workflow: 'workflow',
  comment: 'comment',
} as const

export const OUTPUT = { commentUrl: 'comment-url', localOnly: 'local-only' } as const

const input = actionInputs(new URL('../action.yml', import.meta.url))

interface Inputs {
  githubToken?: string
  spaceId?: string
  hfToken?: string
  railwayToken?: string
  railwayTokenKind: RailwayTokenKind
  railway: { project?: string; environment?: string; service?: string; ollamaService?: string }
  workflow: string
  comment: boolean
}

function readInputs(): Inputs {
  const githubToken = secretInput(INPUT.githubToken)
  const hfToken = secretInput(INPUT.hfToken)
  const railwayToken = secretInput(INPUT.railwayToken)
  const spaceId = input.optional(INPUT.space)
  if (spaceId) parseSpaceId(spaceId)
  const comment = input.boolean(INPUT.comment)
  if (comment && !githubToken) {
    throw new ConfigurationError(
      `${INPUT.comment} is true but ${INPUT.githubToken} is empty: pass \${{ github.token }}`,
    )
  }
  return {
    githubToken,
    spaceId,
    hfToken,
    railwayToken,
    railwayTokenKind: input.choice(INPUT.railwayTokenKind, TOKEN_KINDS),
    railway: {
      project: input.optional(INPUT.railwayProject),
      environment: input.optional(INPUT.railwayEnvironment),
      service: input.optional(INPUT.railwayService),
      ollamaService: input.optional(INPUT.ollamaService),
    },
    workflow: input.required(INPUT.workflow),
    comment,
  }
}

interface PullRequest extends IssueRef {
  sha: string
  /** The head branch lives in another repository: GitHub gives the run no secrets and a read-only token. */
  fork: boolean
}

type PullRequestPayload = {
  number?: number
  head?: { sha?: string; repo?: { full_name?: string } | null }
  base?: { repo?: { full_name?: string } }
}

function pullRequestOf(context: typeof github.context): PullRequest {
  const pr = context.payload.pull_request as PullRequestPayload | undefined
  if (!pr?.number) {
    throw new ConfigurationError(
      `this plan comments on a pull request, but the event is ${context.eventName || 'unknown'}: run it on: pull_request`,
    )
  }
  const head = pr.head?.repo?.full_name
  return {
    ...context.repo,
    number: pr.number,
    sha: pr.head?.sha ?? context.sha,
    fork: !head || head !== pr.base?.repo?.full_name,
  }
}

export async function run(): Promise<void> {
  try {
    const inputs = readInputs()
    const pr = pullRequestOf(github.context)
    // Everything read back that may be a secret joins the tokens: none of it may reach the comment.
    const secrets = [inputs.githubToken, inputs.hfToken, inputs.railwayToken].filter((s): s is string => Boolean(s))
    const onSecret = (value: string) => {
      maskSecret(value)
      secrets.push(value)
    }
    const root = process.env.GITHUB_WORKSPACE || process.cwd()
    const plan = await planMigration(
      {
        root,
        workflow: MigrateWorkflow.read(root, inputs.workflow),
        spaceId: inputs.spaceId,
        hfToken: inputs.hfToken,
        hubUrl: process.env.HF_ENDPOINT || undefined,
        railway: {
          token: inputs.railwayToken,
          tokenKind: inputs.railwayTokenKind,
          ...inputs.railway,
          endpoint: process.env.RAILWAY_API_URL || undefined,
        },
        fork: pr.fork,
        // A pull_request checkout is the merge of the PR into its base: its first parent is the base.
        baseRef: 'HEAD^1',
        onSecret,
      },
      coreLogger,
    )
    const { serverUrl, runId } = github.context
    const runUrl = runId ? `${serverUrl}/${pr.owner}/${pr.repo}/actions/runs/${runId}` : undefined
    const body = redact(renderPlan(plan, { sha: pr.sha, runUrl }), secrets)
    const localOnly = plan.phases.some((phase) => phase.mode === 'offline')
    core.setOutput(OUTPUT.localOnly, String(localOnly))
    await core.summary.addRaw(body).write()
    if (inputs.comment) await comment(inputs.githubToken ?? '', pr, body)
    const failed = plan.phases.filter((phase) => phase.mode === 'failed')
    if (failed.length > 0) {
      core.setFailed(`could not plan ${failed.map((p) => `${p.phase} (${p.note})`).join('; ')}`)
    }
  } catch (error) {
    failRun(error)
  }
}

async function comment(token: string, pr: PullRequest, body: string): Promise<void> {
  const comments = new IssueComments({ token, apiUrl: process.env.GITHUB_API_URL || undefined, logger: coreLogger })
  try {
    const published = await publishComment(comments, pr, body, PLAN_MARKER, coreLogger)
    core.setOutput(OUTPUT.commentUrl, published.comment.url)
    core.notice(`plan comment ${published.action}: ${published.comment.url}`)
  } catch (error) {
    // GitHub hands a fork PR's run a read-only token whatever the job asks for: the summary holds the plan.
    const status = (error as { status?: number }).status
    if (!pr.fork || (status !== 403 && status !== 404)) throw error
    core.setOutput(OUTPUT.commentUrl, '')
    core.warning(
      `a PR from a fork gets a read-only GITHUB_TOKEN, so the plan could not be posted (${status}); it is in this job's summary`,
    )
  }
}
