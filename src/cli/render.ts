import { redact } from '../secrets.js'

/**
 * Turning what the actions print for the GitHub runner into what a person reads in a terminal,
 * and the one summary table the rehearsal and the CLI end with.
 */

/**
 * Rewrites the runner's workflow commands (`::group::`, `::notice::`, …) of an action's stdout into
 * plain indented lines, hiding secrets as the runner does: the given ones, and from each
 * `::add-mask::` line on, the value it names (in every encoding). The add-mask lines themselves are
 * dropped. What a person reads here is therefore what a GitHub log would show, `***` included.
 * The returned function keeps the masks between chunks of the same run.
 */
export function actionOutputRenderer(secrets: readonly string[] = [], indent = '    '): (stdout: string) => string[] {
  const masks = secrets.filter(Boolean)
  return (stdout) => {
    const lines: string[] = []
    for (const raw of stdout.split('\n')) {
      const mask = /^::add-mask::(.*)$/.exec(raw)
      if (mask) {
        if (mask[1]) masks.push(unescapeCommand(mask[1]))
        continue
      }
      const rendered = renderLine(redact(raw, masks))
      if (rendered !== undefined) lines.push(`${indent}${rendered}`)
    }
    return lines
  }
}

/** One-shot form of actionOutputRenderer, for a whole output at once. */
export function renderActionOutput(stdout: string, secrets: readonly string[] = [], indent = '    '): string[] {
  return actionOutputRenderer(secrets, indent)(stdout)
}

function renderLine(line: string): string | undefined {
  const command = /^::([a-z-]+)(?: [^:]*)?::(.*)$/.exec(line)
  if (!command) return line.trim() ? line : undefined
  const [, name, message = ''] = command
  const text = unescapeCommand(message)
  const marks: Record<string, string> = { group: '▶', notice: '✓', warning: '⚠', error: '✗' }
  // endgroup, debug, set-output and the like say nothing a reader needs.
  return marks[name ?? ''] ? `${marks[name ?? '']} ${text}` : undefined
}

/** Undoes the escaping @actions/core applies to command messages (%25, %0D, %0A). */
function unescapeCommand(text: string): string {
  return text.replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%25/g, '%')
}

/** Where any of the secrets occurs in the texts; the names of the texts, never the secret itself. */
export function findLeaks(texts: Record<string, string>, secrets: string[]): string[] {
  return Object.entries(texts)
    .filter(([, text]) => secrets.some((secret) => secret && text.includes(secret)))
    .map(([name]) => name)
}

/** A plain-text table with a header rule; cells may hold several lines. */
export function formatTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows]
  const widths = header.map((_, col) =>
    Math.max(...all.flatMap((r) => (r[col] ?? '').split('\n').map((l) => l.length))),
  )
  const render = (row: string[]) => {
    const cells = row.map((cell) => cell.split('\n'))
    const height = Math.max(...cells.map((c) => c.length))
    return Array.from({ length: height }, (_, i) =>
      cells
        .map((c, col) => (c[i] ?? '').padEnd(widths[col] ?? 0))
        .join('  ')
        .trimEnd(),
    ).join('\n')
  }
  const rule = widths.map((w) => '─'.repeat(w)).join('  ')
  return [render(header), rule, ...rows.map(render)].join('\n')
}
