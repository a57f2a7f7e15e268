import type * as github from '@actions/github'
import { ConfigurationError } from '../../../src/errors.js'
import type { IssueRef } from '../../../src/github/issue-comments.js'
import { parseSpaceId } from '../../../src/hf/space-urls.js'
import { type RailwayTokenKind, TOKEN_KINDS } from '../../../src/railway/client.js'
import { actionInputs, secretInput } from '../../common/inputs.js'

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

const input = actionInputs(new URL('../action.yml', import.meta.url))

export interface Inputs {
  githubToken?: string
  spaceId?: string
  hfToken?: string
  railwayToken?: string
  railwayTokenKind: RailwayTokenKind
  railway: { project?: string; environment?: string; service?: string; ollamaService?: string }
  workflow: string
  comment: boolean
}

/** Reads and checks every input once; tokens are masked the moment they are read. */
export function readInputs(): Inputs {
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

export interface PullRequest extends IssueRef {
  sha: string
  /** The head branch lives in another repository: GitHub gives the run no secrets and a read-only token. */
  fork: boolean
}

type PullRequestPayload = {
  number?: number
  head?: { sha?: string; repo?: { full_name?: string } | null }
  base?: { repo?: { full_name?: string } }
}

/** The pull request of the event the run was started by; anything else is a configuration mistake. */
export function pullRequestOf(context: typeof github.context): PullRequest {
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
