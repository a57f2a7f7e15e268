/**
 * The one HTTP path to the Hub, shared by @huggingface/hub (passed as its `fetch`) and by our own
 * calls for the endpoints that library lacks. It gives every request a deadline and turns every
 * refusal into a ServiceError carrying the status and Retry-After, so retry and error wording
 * are decided in one place instead of per library function.
 */
import { ServiceError } from '../errors.js'
import type { Logger } from '../logger.js'
import { rateLimitHint, rateLimitWaitMs } from '../retry.js'

export const hubService = 'Hugging Face'

export type HubFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

export function createHubFetch(options: { timeoutMs: number; logger: Logger }): HubFetch {
  return async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : input)
    const method = init.method ?? 'GET'
    const where = `${method} ${url.pathname}`
    const deadline = AbortSignal.timeout(options.timeoutMs)
    const signal = init.signal ? AbortSignal.any([init.signal, deadline]) : deadline
    let response: Response
    try {
      response = await fetch(input, { ...init, signal })
    } catch (error) {
      if (init.signal?.aborted) throw error
      if (deadline.aborted) {
        throw new ServiceError(hubService, `${where} got no answer within ${options.timeoutMs / 1000} s`, {
          retryable: true,
        })
      }
      const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : ''
      throw new ServiceError(hubService, `${where} failed: ${reason}`, { retryable: true })
    }
    options.logger.debug(`${where} → ${response.status}`)
    if (!response.ok) throw await refusal(where, response)
    return response
  }
}

async function refusal(where: string, response: Response): Promise<ServiceError> {
  const status = response.status
  const detail = await response
    .text()
    .then((text) => {
      try {
        const json = JSON.parse(text) as { error?: string; message?: string }
        return json.error ?? json.message ?? text
      } catch {
        return text
      }
    })
    .catch(() => '')
  const retryAfterMs = rateLimitWaitMs({
    retryAfter: response.headers.get('retry-after'),
    reset: response.headers.get('ratelimit-reset') ?? response.headers.get('x-ratelimit-reset'),
  })
  return new ServiceError(hubService, `${where} answered ${status}${detail ? `: ${detail.slice(0, 300)}` : ''}`, {
    status,
    retryAfterMs,
    retryable: status === 429 || status >= 500,
    nextStep: status === 429 ? rateLimitHint(retryAfterMs, HUB_RATE_LIMITED) : nextStepFor(status),
  })
}

const HUB_RATE_LIMITED = 'the Hub is rate limiting this token; wait a few minutes and re-run the job'

function nextStepFor(status: number): string | undefined {
  if (status === 401) return 'check that the hf-token secret holds a valid token (huggingface.co/settings/tokens)'
  if (status === 403) return 'use a token with write access to the Space owner (a "write" or fine-grained token)'
  if (status >= 500) return 'the Hub is failing; re-run the job later (it is idempotent)'
  return undefined
}

export function statusOf(error: unknown): number | undefined {
  return error instanceof ServiceError ? error.status : undefined
}
