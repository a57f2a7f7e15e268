import * as core from '@actions/core'
import * as github from '@actions/github'
import { IssueComments } from '../../../src/github/issue-comments.js'
import { publishComment } from '../../../src/plan/comment.js'
import { planMigration } from '../../../src/plan/plan.js'
import { PLAN_MARKER, renderPlan } from '../../../src/plan/render.js'
import { MigrateWorkflow } from '../../../src/plan/workflow.js'
import { redact } from '../../../src/secrets.js'
import { maskSecret } from '../../common/inputs.js'
import { coreLogger, failRun } from '../../common/toolkit.js'
import { type PullRequest, pullRequestOf, readInputs } from './inputs.js'

export { INPUT } from './inputs.js'
export const OUTPUT = { commentUrl: 'comment-url', localOnly: 'local-only' } as const

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
