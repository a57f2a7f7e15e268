/**
 * A local stand-in for the GitHub REST endpoints the PR plan calls: list an issue's comments (paged,
 * with the `Link` header GitHub sends), create one, update one. It checks the token as GitHub does
 * (401 for an unknown one; 403 "Resource not accessible by integration" for a read-only one, which is
 * what a fork PR's GITHUB_TOKEN is), refuses what GitHub refuses (a missing or oversized body: 422;
 * editing someone else's comment: 403), keeps state for tests to assert against, and can inject failures.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface FakeGitHubToken {
  token: string
  /** The account its comments are written as. */
  login: string
  /** `read`: a fork PR's token (every write answers 403). */
  permission: 'read' | 'write'
}

export interface FakeComment {
  id: number
  /** owner/repo#number */
  issue: string
  user: string
  body: string
  createdAt: string
  updatedAt: string
}

export interface GitHubRequest {
  method: string
  path: string
  status: number
  /** The token the request carried, so a test can check which one was used (never logged). */
  token?: string
}

export interface GitHubFakeState {
  tokens: FakeGitHubToken[]
  comments: FakeComment[]
  requests: GitHubRequest[]
  /** The comments of one issue, oldest first. */
  commentsOf(owner: string, repo: string, number: number): FakeComment[]
  /** Seeds a comment written by someone else (a person, another bot). */
  addComment(owner: string, repo: string, number: number, user: string, body: string): FakeComment
}

export interface GitHubFake {
  url: string
  state: GitHubFakeState
  /** The next matching request(s) answer `status`. */
  fail(rule: { method?: string; path: RegExp; status: number; times?: number }): void
  close(): Promise<void>
}

export const GITHUB = {
  owner: 'cognitia',
  repo: 'zerollama',
  /** The job's GITHUB_TOKEN on a PR from a branch of the repository. */
  token: 'ghs_fakeJobTokenWithPullRequestsWrite0001',
  /** The token GitHub gives a PR from a fork: read-only whatever the job asks for. */
  forkToken: 'ghs_fakeForkPullRequestReadOnlyToken0002',
  bot: 'github-actions[bot]',
} as const

const MAX_BODY = 65_536

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

export async function startGitHubFake(options: { tokens?: FakeGitHubToken[]; perPageMax?: number } = {}) {
  const perPageMax = options.perPageMax ?? 100
  let nextId = 1000
  const failures: Array<{ method?: string; path: RegExp; status: number; left: number }> = []
  const state: GitHubFakeState = {
    tokens: options.tokens ?? [
      { token: GITHUB.token, login: GITHUB.bot, permission: 'write' },
      { token: GITHUB.forkToken, login: GITHUB.bot, permission: 'read' },
    ],
    comments: [],
    requests: [],
    commentsOf: (owner, repo, number) => state.comments.filter((c) => c.issue === `${owner}/${repo}#${number}`),
    addComment: (owner, repo, number, user, body) => {
      const now = new Date().toISOString()
      const comment = { id: nextId++, issue: `${owner}/${repo}#${number}`, user, body, createdAt: now, updatedAt: now }
      state.comments.push(comment)
      return comment
    },
  }
  let baseUrl = ''

  const toJson = (c: FakeComment) => {
    const [repoPath, number] = c.issue.split('#')
    return {
      id: c.id,
      body: c.body,
      user: { login: c.user, type: c.user.endsWith('[bot]') ? 'Bot' : 'User' },
      html_url: `https://github.com/${repoPath}/pull/${number}#issuecomment-${c.id}`,
      created_at: c.createdAt,
      updated_at: c.updatedAt,
    }
  }

  function tokenOf(req: IncomingMessage): FakeGitHubToken {
    const raw = /^(?:Bearer|token) (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    const token = state.tokens.find((t) => t.token === raw)
    if (!token) throw new HttpError(401, 'Bad credentials')
    return token
  }

  function mayWrite(token: FakeGitHubToken) {
    if (token.permission !== 'write') throw new HttpError(403, 'Resource not accessible by integration')
  }

  async function bodyOf(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    let parsed: { body?: unknown }
    try {
      parsed = JSON.parse(text) as { body?: unknown }
    } catch {
      throw new HttpError(400, 'Problems parsing JSON')
    }
    if (typeof parsed.body !== 'string' || parsed.body === '') throw new HttpError(422, 'Validation Failed: body')
    if (parsed.body.length > MAX_BODY)
      throw new HttpError(422, 'Validation Failed: body is too long (maximum is 65536 characters)')
    return parsed.body
  }

  async function handle(
    req: IncomingMessage,
  ): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
    const url = new URL(req.url ?? '/', baseUrl)
    const method = req.method ?? 'GET'
    const token = tokenOf(req)
    const list = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/.exec(url.pathname)
    if (list) {
      const [, owner = '', repo = '', number = '0'] = list
      if (method === 'GET') {
        const all = state.commentsOf(owner, repo, Number(number))
        const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), perPageMax)
        const page = Number(url.searchParams.get('page') ?? 1)
        const items = all.slice((page - 1) * perPage, page * perPage)
        const headers: Record<string, string> = {}
        if (page * perPage < all.length) {
          const next = new URL(url)
          next.searchParams.set('page', String(page + 1))
          next.searchParams.set('per_page', String(perPage))
          const last = new URL(next)
          last.searchParams.set('page', String(Math.ceil(all.length / perPage)))
          headers.link = `<${next}>; rel="next", <${last}>; rel="last"`
        }
        return { status: 200, body: items.map(toJson), headers }
      }
      if (method === 'POST') {
        mayWrite(token)
        const body = await bodyOf(req)
        return { status: 201, body: toJson(state.addComment(owner, repo, Number(number), token.login, body)) }
      }
    }
    const one = /^\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)$/.exec(url.pathname)
    if (one && method === 'PATCH') {
      mayWrite(token)
      const comment = state.comments.find((c) => c.id === Number(one[3]) && c.issue.startsWith(`${one[1]}/${one[2]}#`))
      if (!comment) throw new HttpError(404, 'Not Found')
      if (comment.user !== token.login) throw new HttpError(403, 'Resource not accessible by integration')
      comment.body = await bodyOf(req)
      comment.updatedAt = new Date().toISOString()
      return { status: 200, body: toJson(comment) }
    }
    throw new HttpError(404, 'Not Found')
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', baseUrl).pathname
    const method = req.method ?? 'GET'
    const token = /^(?:Bearer|token) (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      state.requests.push({ method, path, status, token })
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
      res.end(JSON.stringify(body))
    }
    const failure = failures.find((f) => f.left > 0 && (!f.method || f.method === method) && f.path.test(path))
    if (failure) {
      failure.left--
      send(failure.status, { message: `injected ${failure.status}` })
      return
    }
    handle(req).then(
      (reply) => send(reply.status, reply.body, reply.headers),
      (error: unknown) => {
        const status = error instanceof HttpError ? error.status : 500
        send(status, { message: error instanceof Error ? error.message : String(error) })
      },
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const fake: GitHubFake = {
    url: baseUrl,
    state,
    fail: (rule) => failures.push({ ...rule, left: rule.times ?? 1 }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
  return fake
}
