/**
 * Turning what the actions print for the GitHub runner into what a person reads in a terminal,
 * and the one summary table the rehearsal and the CLI end with.
 */

/**
 * Rewrites the runner's workflow commands (`::group::`, `::notice::`, …) of an action's stdout into
 * plain indented lines. `::add-mask::` lines are dropped: they carry the secret they mask. Any other
 * occurrence of a secret is replaced, so a leak shows as `***` here (and is caught by the scan).
 */
export function renderActionOutput(stdout: string, secrets: string[] = [], indent = '    '): string[] {
  const lines: string[] = []
  for (const raw of stdout.split('\n')) {
    const line = secrets.reduce((text, secret) => (secret ? text.split(secret).join('***') : text), raw)
    const command = /^::([a-z-]+)(?: [^:]*)?::(.*)$/.exec(line)
    if (!command) {
      if (line.trim()) lines.push(`${indent}${line}`)
      continue
    }
    const [, name, message = ''] = command
    const text = unescapeCommand(message)
    if (name === 'group') lines.push(`${indent}▶ ${text}`)
    else if (name === 'notice') lines.push(`${indent}✓ ${text}`)
    else if (name === 'warning') lines.push(`${indent}⚠ ${text}`)
    else if (name === 'error') lines.push(`${indent}✗ ${text}`)
    // endgroup, add-mask, debug, set-output and the like say nothing a reader needs.
  }
  return lines
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
