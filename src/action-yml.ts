/**
 * The inputs' defaults of an action.yml — their one home. The runner applies them to inputs a
 * workflow leaves out; the actions apply them to inputs a workflow passes empty (an unset variable);
 * the bundle runner (CLI, rehearsal, tests) applies them as the runner does.
 */
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'

/** The defaults of the action.yml at `file` (an action passes `new URL('../action.yml', import.meta.url)`). */
export function readInputDefaults(file: string | URL): Record<string, string> {
  return parseInputDefaults(readFileSync(file, 'utf8'))
}

/** Reads the `default:` of every input of an action.yml, as the runner would: as strings. */
export function parseInputDefaults(actionYml: string): Record<string, string> {
  const document = parse(actionYml) as { inputs?: Record<string, { default?: unknown } | null> } | null
  const defaults: Record<string, string> = {}
  for (const [name, input] of Object.entries(document?.inputs ?? {})) {
    const value = input?.default
    if (value !== undefined && value !== null) defaults[name] = String(value).replace(/\n+$/, '')
  }
  return defaults
}
