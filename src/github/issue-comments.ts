/**
 * The comments of one GitHub issue or pull request (a PR's conversation is its issue): list every
 * page, create, update. Plain fetch with a deadline per request; a refusal becomes a ServiceError
 * with the status, and a token GitHub does not accept becomes a ConfigurationError saying what to set.
 */
import { ConfigurationError, ServiceError } from '../errors.js'
import type { Logger } from '../logger.js'
import { type Clock, retryRead } from '../retry.js'

export const githubService = 'GitHub'

export interface IssueComment {
  id: number
  body: string
  /** The account that wrote it (`github-actions[bot]` for a workflow's token). */
  user: string
  /** Its page (html_url). */
  url: string
}

export interface IssueRef {
  owner: string
  repo: string
  number: number
}

export interface IssueCommentsOptions {
  token: string
  /** `GITHUB_API_URL`: https://api.github.com, or a GitHub Enterprise Server's /api/v3. */
  apiUrl?: string
  logger: Logger
  timeoutMs?: number
  /** Pages read before giving up (100 comments each). */
  maxPages?: number
  readAttempts?: number
  clock?: Clock
}

export class IssueComments {
  private readonly apiUrl: string

  constructor(private readonly options: IssueCommentsOptions) {
    this.apiUrl = (options.apiUrl ?? 'https://api.github.com').replace(/\/+$/, '')
  }

  /** Every comment, oldest first, following the `Link: rel="next"` pages. */
  async list(issue: IssueRef): Promise<IssueComment[]> {
    const comments: IssueComment[] = []
    let url: string | undefined = `${this.issueUrl(issue)}/comments?per_page=100`
    for (let page = 0; url; page++) {
      if (page >= (this.options.maxPages ?? 50)) {
        throw new ServiceError(githubService, `#${issue.number} has more than ${page * 100} comments`, {
          nextStep: 'delete old bot comments, or raise maxPages',
        })
      }
      const pageUrl: string = url
      const response = await retryRead(() => this.request('GET', pageUrl), {
        attempts: this.options.readAttempts ?? 3,
        clock: this.options.clock,
        onRetry: (error, delayMs, attempt) =>
          this.options.logger.warning(`${error.message}; retry ${attempt} in ${Math.round(delayMs / 1000)} s`),
      })
      for (const item of (await response.json()) as unknown[]) comments.push(toComment(item))
      url = nextPage(response.headers.get('link'))
    }
    return comments
  }

  async create(issue: IssueRef, body: string): Promise<IssueComment> {
    const response = await this.request('POST', `${this.issueUrl(issue)}/comments`, { body })
    return toComment(await response.json())
  }

  async update(issue: IssueRef, id: number, body: string): Promise<IssueComment> {
    const url = `${this.apiUrl}/repos/${issue.owner}/${issue.repo}/issues/comments/${id}`
    return toComment(await (await this.request('PATCH', url, { body })).json())
  }

  private issueUrl({ owner, repo, number }: IssueRef): string {
    return `${this.apiUrl}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/issues/${number}`
  }

  private async request(method: string, url: string, body?: unknown): Promise<Response> {
    const where = `${method} ${new URL(url).pathname}`
    const timeoutMs = this.options.timeoutMs ?? 30_000
    let response: Response
    try {
      response = await fetch(url, {
        method,
        headers: {
          Authorization: `Bearer ${this.options.token}`,
          Accept: 'application/vnd.github+json',
          'X-GitHub-Api-Version': '2022-11-28',
          'User-Agent': 'zerollama-pr-plan',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (error) {
      const reason =
        error instanceof Error && error.name === 'TimeoutError'
          ? `no answer within ${timeoutMs / 1000} s`
          : String(error)
      throw new ServiceError(githubService, `${where} failed: ${reason}`, { retryable: true })
    }
    this.options.logger.debug(`${where} → ${response.status}`)
    if (response.ok) return response
    const detail = await response
      .json()
      .then((json: { message?: string }) => json.message ?? '')
      .catch(() => '')
    if (response.status === 401) {
      throw new ConfigurationError(
        `GitHub rejected github-token (401${detail ? `: ${detail}` : ''}): pass the job's own token (github-token: \${{ github.token }})`,
      )
    }
    throw new ServiceError(githubService, `${where} answered ${response.status}${detail ? `: ${detail}` : ''}`, {
      status: response.status,
      retryable: response.status === 429 || response.status >= 500,
      nextStep:
        response.status === 403 || response.status === 404
          ? 'give the job permissions: pull-requests: write (a PR from a fork gets a read-only token whatever it asks)'
          : undefined,
    })
  }
}

function toComment(item: unknown): IssueComment {
  const raw = item as { id: number; body?: string | null; user?: { login?: string }; html_url?: string }
  return { id: raw.id, body: raw.body ?? '', user: raw.user?.login ?? '', url: raw.html_url ?? '' }
}

/** The `rel="next"` URL of a Link header, if any. */
export function nextPage(link: string | null): string | undefined {
  for (const part of link?.split(',') ?? []) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part)
    if (match) return match[1]
  }
  return undefined
}
