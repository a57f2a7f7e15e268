import type { Logger } from '../logger.js'
import type { Clock } from '../retry.js'
import { realClock } from '../retry.js'
import type { PullStatus } from './types.js'

export interface ProgressOptions {
  /** A line at most this often while the same step is running… */
  intervalMs?: number
  /** …unless the step advanced at least this many percentage points since the last line. */
  stepPercent?: number
  clock?: Clock
}

const GB = 1e9

function formatBytes(bytes: number): string {
  return bytes >= GB ? `${(bytes / GB).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(0)} MB`
}

/**
 * Turns the stream of pull status lines (hundreds per file) into a few log lines: one when the step
 * changes, and within a step one per `stepPercent` points or per `intervalMs`, whichever comes first.
 * Returns the callback to hand to OllamaClient.pull and the number of lines it printed.
 */
export function pullProgress(
  model: string,
  logger: Logger,
  options: ProgressOptions = {},
): { onStatus: (status: PullStatus) => void; lines: () => number } {
  const { intervalMs = 10_000, stepPercent = 10, clock = realClock } = options
  let lastStatus = ''
  let lastPercent = -1
  let lastAt = 0
  let printed = 0
  const onStatus = (status: PullStatus) => {
    const now = clock.now()
    const hasTotal = typeof status.total === 'number' && status.total > 0
    const percent = hasTotal ? Math.floor((100 * (status.completed ?? 0)) / (status.total as number)) : -1
    const newStep = status.status !== lastStatus
    const advanced = percent >= 0 && (percent - lastPercent >= stepPercent || (percent === 100 && lastPercent < 100))
    const due = percent > lastPercent && now - lastAt >= intervalMs
    if (!newStep && !advanced && !due) return
    const figures = hasTotal
      ? ` ${percent}% (${formatBytes(status.completed ?? 0)} / ${formatBytes(status.total as number)})`
      : ''
    logger.info(`${model}: ${status.status}${figures}`)
    printed++
    lastStatus = status.status
    lastPercent = percent
    lastAt = now
  }
  return { onStatus, lines: () => printed }
}
