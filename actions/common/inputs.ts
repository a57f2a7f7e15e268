// Reading action inputs, the same way in every action: one rule per kind of input, one wording per mistake.
import * as core from '@actions/core'
import { ConfigurationError } from '../../src/errors.js'
import { secretForms } from '../../src/secrets.js'

/** Hands every form of a secret (as given, URL-encoded, base64) to the runner's mask before anything can print it. */
export function maskSecret(value: string): void {
  for (const form of secretForms(value)) core.setSecret(form)
}

/** A required input: missing or empty fails the run with the input's name. */
export function requiredInput(name: string): string {
  return core.getInput(name, { required: true })
}

/** An optional input: undefined when empty. */
export function optionalInput(name: string): string | undefined {
  return core.getInput(name) || undefined
}

/**
 * An input whose default lives in action.yml (its one home): the runner applies it when a workflow
 * leaves the input out; this applies it when the workflow passes it empty (an unset `vars.*`).
 */
export function defaultedInput(name: string, defaults: Record<string, string>): string {
  const value = core.getInput(name) || defaults[name] || ''
  if (!value) throw new ConfigurationError(`input ${name} is empty and its action.yml gives no default`)
  return value
}

/** A credential, masked the moment it is read. */
export function secretInput(name: string, options: { required?: boolean } = {}): string | undefined {
  const value = core.getInput(name, { required: options.required ?? false })
  maskSecret(value)
  return value || undefined
}

/** A boolean; an empty value (a workflow expression that evaluated to '') means `fallback`. */
export function booleanInput(name: string, fallback: boolean): boolean {
  return core.getInput(name) === '' ? fallback : core.getBooleanInput(name)
}

/** A number within [min, max]; empty means `fallback`. */
export function numberInput(name: string, fallback: number, range: { min: number; max: number }): number {
  const raw = core.getInput(name)
  const value = raw === '' ? fallback : Number(raw)
  if (!Number.isFinite(value) || value < range.min || value > range.max) {
    throw new ConfigurationError(`input ${name} must be a number from ${range.min} to ${range.max}, got "${raw}"`)
  }
  return value
}

/** One of a fixed list; empty means `fallback`, and without a fallback the input is required. */
export function choiceInput<T extends string>(name: string, allowed: readonly T[], fallback?: T): T {
  const value = core.getInput(name, { required: fallback === undefined }) || fallback || ''
  if ((allowed as readonly string[]).includes(value)) return value as T
  throw new ConfigurationError(`input ${name} must be one of ${allowed.join(', ')}; got "${value}"`)
}
