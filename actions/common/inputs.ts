// Reading action inputs, the same way in every action: one rule per kind of input, one wording per
// mistake, and every default read from the action's own action.yml (their one home).
import * as core from '@actions/core'
import { readInputDefaults } from '../../src/action-yml.js'
import { ConfigurationError } from '../../src/errors.js'
import { secretForms } from '../../src/secrets.js'

/** Hands every form of a secret (as given, URL-encoded, base64) to the runner's mask before anything can print it. */
export function maskSecret(value: string): void {
  for (const form of secretForms(value)) core.setSecret(form)
}

/** A credential, masked the moment it is read. */
export function secretInput(name: string, options: { required?: boolean } = {}): string | undefined {
  const value = core.getInput(name, { required: options.required ?? false })
  maskSecret(value)
  return value || undefined
}

const YAML_TRUE = ['true', 'True', 'TRUE']
const YAML_FALSE = ['false', 'False', 'FALSE']

/**
 * The input readers of one action. `actionYml` is its action.yml
 * (`new URL('../action.yml', import.meta.url)`, valid from src/ and from the dist bundle alike). The
 * runner applies a default only to an input a workflow leaves out; these apply it also to an input
 * passed empty (an unset `vars.*`), so no default is ever restated in code or in a workflow.
 */
export function actionInputs(actionYml: URL) {
  const defaults = readInputDefaults(actionYml)
  /** The value, else the action.yml default; an input without either is required (core's own message). */
  const value = (name: string) => core.getInput(name) || defaults[name] || core.getInput(name, { required: true })
  return {
    /** A value that must be there (given, or its action.yml default). */
    required: value,
    /** Undefined when empty and action.yml gives no default. */
    optional: (name: string): string | undefined => core.getInput(name) || defaults[name] || undefined,
    /** A YAML 1.2 boolean (what core.getBooleanInput accepts). */
    boolean(name: string): boolean {
      const raw = value(name)
      if (YAML_TRUE.includes(raw)) return true
      if (YAML_FALSE.includes(raw)) return false
      throw new ConfigurationError(`input ${name} must be true or false, got "${raw}"`)
    },
    /** A number within [min, max]. */
    number(name: string, range: { min: number; max: number }): number {
      const raw = value(name)
      const parsed = Number(raw)
      if (!Number.isFinite(parsed) || parsed < range.min || parsed > range.max) {
        throw new ConfigurationError(`input ${name} must be a number from ${range.min} to ${range.max}, got "${raw}"`)
      }
      return parsed
    },
    /** One of a fixed list. */
    choice<T extends string>(name: string, allowed: readonly T[]): T {
      const raw = value(name)
      if ((allowed as readonly string[]).includes(raw)) return raw as T
      throw new ConfigurationError(`input ${name} must be one of ${allowed.join(', ')}; got "${raw}"`)
    },
  }
}
