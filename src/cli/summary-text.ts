/**
 * Turns a job summary, as @actions/core writes it (HTML tables and headings mixed with Markdown),
 * into terminal text, so the figures a reviewer reads on GitHub before approving are the figures
 * the terminal shows before its typed confirmation.
 */
import { formatTable } from './render.js'

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", nbsp: ' ' }

function decode(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_, name: string) => entities[name] ?? '')
}

/** Text of an HTML fragment: tags dropped, line breaks kept, entities decoded. */
function plain(html: string): string {
  return decode(
    html
      .replace(/<br\s*\/?>/gi, '\n')
      .replace(/<a [^>]*href="([^"]*)"[^>]*>(.*?)<\/a>/gi, (_, href: string, text: string) =>
        text === href ? href : `${text} (${href})`,
      )
      .replace(/<[^>]+>/g, ''),
  ).trim()
}

function tableText(html: string): string {
  const rows = [...html.matchAll(/<tr>(.*?)<\/tr>/gis)].map((row) =>
    [...(row[1] ?? '').matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/gis)].map((cell) => plain(cell[1] ?? '')),
  )
  const [header = [], ...body] = rows
  return formatTable(header, body)
}

export function summaryToText(summary: string): string {
  const parts: string[] = []
  let rest = summary
  for (;;) {
    const table = /<table>.*?<\/table>/is.exec(rest)
    const before = table ? rest.slice(0, table.index) : rest
    const text = plain(
      before
        .replace(
          /<h(\d)>(.*?)<\/h\d>/gis,
          (_, level: string, title: string) => `\n${'#'.repeat(Number(level))} ${title}\n`,
        )
        .replace(/<li>/gi, '\n• ')
        .replace(/<\/(p|ul|ol|pre|details)>/gi, '\n'),
    )
    if (text) parts.push(text.replace(/\n{3,}/g, '\n\n'))
    if (!table) break
    parts.push(tableText(table[0]))
    rest = rest.slice(table.index + table[0].length)
  }
  return parts.join('\n')
}
