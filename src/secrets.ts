/**
 * What counts as a secret, and how it is hidden: one place for the actions (which hand each form to
 * the runner's mask) and the CLI (which redacts its own output before printing it).
 */

/** The forms a secret takes on the wire or in a log: as given, URL-encoded, and base64. */
export function secretForms(secret: string): string[] {
  if (!secret) return []
  return [...new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')])]
}

const CREDENTIAL_NAME = /(_TOKEN|_KEY|_SECRET)$|PASSWORD/i
/** Token shapes worth hiding whatever the variable is called: Hugging Face, GitHub, OpenAI-style keys. */
const CREDENTIAL_VALUE = /^(hf_|ghp_|ghs_|gho_|github_pat_|sk-)[A-Za-z0-9_-]{8,}$/
const USERINFO = /^[a-z][a-z0-9+.-]*:\/\/([^/@\s]+)@/i

/**
 * The parts of a variable to hide: the whole value when its name or its value looks like a
 * credential (`*_TOKEN`, `*_KEY`, `*_SECRET`, `*PASSWORD*`, `hf_…`, a URL with userinfo), and the
 * userinfo's password on its own; nothing for a plain value such as `NODE_ENV=production`.
 */
export function variableSecrets(name: string, value: string): string[] {
  if (!value) return []
  const userinfo = USERINFO.exec(value)?.[1]
  if (!CREDENTIAL_NAME.test(name) && !CREDENTIAL_VALUE.test(value) && !userinfo) return []
  const [user, password] = userinfo?.split(':') ?? []
  return [value, ...(password ? [password] : user ? [user] : [])]
}

/** Replaces every form of every secret with `***`; longer forms first, so no fragment of one survives. */
export function redact(text: string, secrets: readonly string[]): string {
  const forms = secrets.flatMap(secretForms).sort((a, b) => b.length - a.length)
  return forms.reduce((out, form) => out.split(form).join('***'), text)
}
