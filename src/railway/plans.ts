/**
 * What each switch-railway mode will change, decided from Railway's state as read — pure functions,
 * no client, no logger. src/railway/switch.ts reads the state, prints these plans and applies them.
 */
import { ConfigurationError } from '../errors.js'
import type { DeploymentSummary } from './documents.js'

export const MODES = ['switch', 'rollback', 'decommission', 'reactivate'] as const
export type SwitchMode = (typeof MODES)[number]

/** What Cognitia used before the move: the CPU Ollama service on Railway's private network. */
export const DEFAULT_ROLLBACK_URL = 'http://ollama.railway.internal:11434'
export const DEFAULT_VARIABLE = 'OLLAMA_BASE_URL'
export const DEFAULT_HF_TOKEN_VARIABLE = 'OLLAMA_HF_TOKEN'

/** `OLLAMA_BASE_URL` → `ZEROLLAMA_PREVIOUS_OLLAMA_BASE_URL`: where switch records the value it replaced. */
export function previousVariableName(variable: string): string {
  return `ZEROLLAMA_PREVIOUS_${variable}`
}

/** Where on Railway: enough to read the state (status, validate) and to change it (the modes). */
export interface RailwayRef {
  /** Name or id; optional with a project token (it knows its project). */
  project?: string
  environment: string
  /** The app whose variable changes (Cognitia). */
  service: string
  /** The old CPU Ollama service. */
  ollamaService: string
  variable: string
  /** Its value is masked as a secret, whatever the name looks like. */
  hfTokenVariable: string
  /** Receives every value read back that may be a secret, before anything can print it. */
  onSecret?: (value: string) => void
}

export interface SwitchSettings extends RailwayRef {
  /** switch: the Space's API base URL; rollback/decommission: the Space to recognise, when given. */
  spaceUrl?: string
  /** switch only, for a private Space: written next to the URL so Cognitia can authenticate. */
  hfToken?: string
  dryRun: boolean
  deploymentTimeoutMs: number
  /** rollback only: restore DEFAULT_ROLLBACK_URL when no usable record exists (otherwise the run stops). */
  restoreDefault?: boolean
}

/** What one mode will do: the variables of its one upsert, and the lines of the printed plan. */
export interface VariablePlan {
  /** Variables to write in the one upsert; empty when everything already holds. */
  upsert: Record<string, string>
  before?: string
  after?: string
  /** The record of the replaced value, as it will stand (switch), or what is restored (rollback). */
  recordedPrevious?: string
  lines: string[]
}

/**
 * Decides the switch upsert from the variables as they are. The record always holds the value this
 * switch replaces, so a rollback restores exactly that. A re-run (the variable already holds the
 * Space URL) or a move from one Space to another keeps the record: a Space is never recorded as the
 * backend to go back to.
 */
export function planSwitch(variables: Record<string, string>, settings: SwitchSettings): VariablePlan {
  const spaceUrl = requireSpaceUrl(settings)
  const previousName = previousVariableName(settings.variable)
  const current = variables[settings.variable]
  const recorded = variables[previousName]
  const record = recordAfterSwitch(current, recorded, spaceUrl)
  const upsert: Record<string, string> = {}
  const lines = [change(settings.variable, current, spaceUrl)]
  if (current !== spaceUrl) upsert[settings.variable] = spaceUrl
  if (record !== undefined && record !== recorded) {
    upsert[previousName] = record
    lines.push(`${previousName}: ${displayUrl(recorded)} → ${displayUrl(record)}`)
  } else if (record) {
    lines.push(`${previousName}: kept ${displayUrl(record)}`)
  } else {
    lines.push(`${previousName}: nothing to record; a rollback will need restore-default (${DEFAULT_ROLLBACK_URL})`)
  }
  if (settings.hfToken && variables[settings.hfTokenVariable] !== settings.hfToken) {
    upsert[settings.hfTokenVariable] = settings.hfToken
    lines.push(`${settings.hfTokenVariable}: set (value masked)`)
  }
  return { upsert, before: current, after: spaceUrl, recordedPrevious: record || undefined, lines }
}

/**
 * What the record must hold once the variable points at the Space: the value being replaced; the
 * current record when the replaced value is itself a Space; empty when the variable was unset, so
 * that an older record can never be restored by mistake.
 */
function recordAfterSwitch(current: string | undefined, recorded: string | undefined, spaceUrl: string) {
  if (current === undefined) return recorded === undefined ? undefined : ''
  return isSpaceUrl(current, spaceUrl) ? recorded : current
}

/**
 * A URL zerollama switches Cognitia to: a Hugging Face Space (`https://<owner>-<name>.hf.space`), an
 * Inference Endpoint (`https://<id>.<region>.<vendor>.endpoints.huggingface.cloud`), or the URL this run
 * was given. Rollback undoes only a switch to one of these.
 */
export function isSpaceUrl(url: string, spaceUrl?: string): boolean {
  const bare = (u: string) => u.trim().replace(/\/+$/, '')
  if (spaceUrl && bare(url) === bare(spaceUrl)) return true
  try {
    const host = new URL(url).hostname
    return host.endsWith('.hf.space') || host.endsWith('.endpoints.huggingface.cloud')
  } catch {
    return false
  }
}

/** What planRollback needs to know: the variable, the Space to recognise, and whether the default may be used. */
export type RollbackChoice = Pick<SwitchSettings, 'variable' | 'spaceUrl' | 'restoreDefault'>

/**
 * Decides what a rollback restores. Only a Cognitia on a Space is rolled back: otherwise there is
 * nothing to undo and the variable stays (a stale record must not overwrite a newer backend). On a
 * Space, the record is restored; when it is missing or is a Space URL itself, the run stops unless
 * the operator asked for the documented default.
 */
export function planRollback(variables: Record<string, string>, settings: RollbackChoice): VariablePlan {
  const name = settings.variable
  const current = variables[name]
  const restore = rollbackTarget(variables, settings)
  const why = rollbackReason({ current, restore, recorded: variables[previousVariableName(name)], name })
  const line = `${change(name, current, restore)} (${why})`
  return {
    upsert: current === restore ? {} : { [name]: restore },
    before: current,
    after: restore,
    recordedPrevious: restore,
    lines: [line],
  }
}

function rollbackReason(r: { current?: string; restore: string; recorded?: string; name: string }): string {
  if (r.current !== r.restore) {
    return r.restore === r.recorded
      ? `recorded in ${previousVariableName(r.name)}`
      : 'the documented default (restore-default)'
  }
  return r.current === r.recorded ? 'the recorded value' : 'not on a Space; nothing to roll back'
}

/** The value a rollback leaves in the variable; throws what to do when it cannot tell. */
function rollbackTarget(variables: Record<string, string>, settings: RollbackChoice): string {
  const name = settings.variable
  const previousName = previousVariableName(name)
  const current = variables[name]
  const recorded = variables[previousName]
  if (current !== undefined && !isSpaceUrl(current, settings.spaceUrl)) return current
  if (recorded && !isSpaceUrl(recorded, settings.spaceUrl)) return recorded
  if (settings.restoreDefault) return DEFAULT_ROLLBACK_URL
  const problem = recorded
    ? `${previousName} holds ${displayUrl(recorded)}, which looks wrong (a Space URL, not the backend switch replaced)`
    : `there is no record of the value switch replaced (${previousName} is unset)`
  throw new ConfigurationError(
    `${problem}; ${name} stays ${displayUrl(current)}. Set ${name} in Railway by hand, or re-run with restore-default: true to restore the documented default ${DEFAULT_ROLLBACK_URL}`,
  )
}

/** The deployments decommission stops, and its plan; refuses while Cognitia still uses the old service. */
export function planDecommission(
  variables: Record<string, string>,
  running: DeploymentSummary[],
  settings: SwitchSettings,
): { stop: string[]; lines: string[] } {
  const current = variables[settings.variable]
  const oldUrls = [variables[previousVariableName(settings.variable)], DEFAULT_ROLLBACK_URL]
  if (
    current === undefined ||
    oldUrls.includes(current) ||
    current.includes(`//${settings.ollamaService}.railway.internal`)
  ) {
    throw new ConfigurationError(
      `${settings.service}'s ${settings.variable} still points at ${displayUrl(current)} (the old Ollama service); run mode=switch first — stopping it now would cut ${settings.service} off`,
    )
  }
  const lines =
    running.length === 0
      ? [`${settings.ollamaService}: already stopped`]
      : running.map((d) => `${settings.ollamaService}: stop deployment ${d.id} (undo: mode=reactivate)`)
  return { stop: running.map((d) => d.id), lines }
}

/** The plan line of the old Ollama service when rollback or reactivate needs it running. */
export function ollamaLine(ollamaService: string, running: boolean): string {
  return running ? `${ollamaService}: already running` : `${ollamaService}: stopped → deploy it`
}

/** Hides a password in a URL's userinfo (`https://user:***@host`); other URLs are shown as they are. */
export function displayUrl(url: string | undefined): string {
  if (url === undefined) return '(unset)'
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*:)[^/@]*@/i, '$1***@')
}

/** `NAME: old → new`, or `NAME: already new`. */
function change(name: string, from: string | undefined, to: string): string {
  return from === to ? `${name}: already ${displayUrl(to)}` : `${name}: ${displayUrl(from)} → ${displayUrl(to)}`
}

export function requireSpaceUrl(settings: { spaceUrl?: string }): string {
  const url = settings.spaceUrl?.trim()
  if (!url)
    throw new ConfigurationError('mode=switch needs space-url (the Space API base, https://<owner>-<name>.hf.space)')
  if (!/^https?:\/\/[^\s]+$/.test(url)) throw new ConfigurationError(`space-url must be an http(s) URL, got "${url}"`)
  return url.replace(/\/+$/, '')
}
