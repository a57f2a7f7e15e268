/**
 * The inputs' defaults of an action.yml — their one home. The runner applies them to inputs a
 * workflow leaves out; the actions apply them to inputs a workflow passes empty (an unset variable);
 * the bundle runner (CLI, rehearsal, tests) applies them as the runner does.
 */
import { readFileSync } from 'node:fs'

/** The defaults of the action.yml at `file` (an action passes `new URL('../action.yml', import.meta.url)`). */
export function readInputDefaults(file: string | URL): Record<string, string> {
  return parseInputDefaults(readFileSync(file, 'utf8'))
}

/**
 * Reads the `default:` of every input in an action.yml. There is no YAML parser among our
 * dependencies, so this understands the subset action.yml files use: block mappings, flow
 * mappings on one line (`x: { description: '…', default: 'y' }`), quoted or plain scalars,
 * and `|`/`>` block scalars.
 */
export function parseInputDefaults(actionYml: string): Record<string, string> {
  const lines = actionYml.split('\n')
  const start = lines.findIndex((line) => /^inputs:\s*(#.*)?$/.test(line))
  if (start === -1) return {}
  const defaults: Record<string, string> = {}
  let inputIndent = -1
  let current: string | undefined
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (/^\s*(#.*)?$/.test(line)) continue
    const indent = line.length - line.trimStart().length
    if (indent === 0) break
    if (inputIndent === -1) inputIndent = indent
    const entry = /^\s*([^\s:#][^:]*):\s*(.*)$/.exec(line)
    if (indent === inputIndent && entry) {
      const [, key = '', rest = ''] = entry
      current = key.trim()
      const flowDefault = /^\{.*\bdefault:\s*('(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|[^,}]*)/.exec(rest)
      if (flowDefault) defaults[current] = scalar(flowDefault[1] ?? '')
    } else if (current && indent > inputIndent && entry) {
      const isDefault = entry[1]?.trim() === 'default'
      const raw = (entry[2] ?? '').trim()
      if (/^[|>][-+]?$/.test(raw)) {
        // A block scalar's lines belong to its key, whatever they look like (a description may say "default:").
        const block: string[] = []
        while (i + 1 < lines.length) {
          const next = lines[i + 1] ?? ''
          if (next.trim() !== '' && next.length - next.trimStart().length <= indent) break
          block.push(next.trim())
          i++
        }
        if (isDefault) {
          defaults[current] = raw.startsWith('>') ? block.join(' ').trim() : block.join('\n').replace(/\n+$/, '')
        }
      } else if (isDefault) {
        defaults[current] = scalar(raw)
      }
    }
  }
  return defaults
}

function scalar(raw: string): string {
  const value = raw.trim()
  if (value.startsWith("'")) return value.slice(1, value.lastIndexOf("'")).replace(/''/g, "'")
  if (value.startsWith('"')) return JSON.parse(value.slice(0, value.lastIndexOf('"') + 1)) as string
  return value.replace(/\s+#.*$/, '')
}
