/**
 * Reads the end of a Space's build or run log. The Hub serves logs as a server-sent event stream
 * that stays open while the Space lives, so "the log so far" means: read until the stream has been
 * quiet for `idleMs` (huggingface_hub treats a 5 s silence the same way) or `totalMs` has passed.
 */
import type { HubFetch } from './hub-http.js'

export async function readLogTail(options: {
  fetch: HubFetch
  url: string
  token: string
  lines?: number
  idleMs?: number
  totalMs?: number
}): Promise<string[]> {
  const { lines = 30, idleMs = 5000, totalMs = 20_000 } = options
  const stop = new AbortController()
  const hardStop = setTimeout(() => stop.abort(), totalMs)
  const tail: string[] = []
  try {
    const response = await options.fetch(options.url, {
      headers: { Authorization: `Bearer ${options.token}`, Accept: 'text/event-stream' },
      signal: stop.signal,
    })
    if (!response.body) return []
    const decoder = new TextDecoder()
    let pending = ''
    const reader = response.body.getReader()
    for (;;) {
      const idle = setTimeout(() => stop.abort(), idleMs)
      const chunk = await reader.read().finally(() => clearTimeout(idle))
      if (chunk.done) break
      pending += decoder.decode(chunk.value, { stream: true })
      const complete = pending.split('\n')
      pending = complete.pop() ?? ''
      for (const line of complete) {
        tail.push(...(logLine(line)?.split('\n') ?? []))
        tail.splice(0, Math.max(0, tail.length - lines))
      }
    }
  } catch (error) {
    // A quiet stream ends in our own abort: that is the normal way out. Anything else is reported inline.
    if (!stop.signal.aborted) tail.push(`(log unavailable: ${error instanceof Error ? error.message : String(error)})`)
  } finally {
    clearTimeout(hardStop)
    stop.abort()
  }
  return tail
}

/** `data: {"data": "<text>", "timestamp": "…"}` → the text; keep-alives and other fields → undefined. */
function logLine(line: string): string | undefined {
  if (!line.startsWith('data:')) return undefined
  const payload = line.slice(5).trim()
  if (!payload) return undefined
  try {
    const event = JSON.parse(payload) as { data?: unknown }
    return typeof event.data === 'string' ? event.data.replace(/\s+$/, '') : undefined
  } catch {
    return payload
  }
}
