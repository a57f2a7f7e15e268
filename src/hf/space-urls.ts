import { ConfigurationError } from '../errors.js'

export interface SpaceUrls {
  /** The Space's page on the Hub. */
  spaceUrl: string
  /** Where the app itself answers (the Ollama API root). */
  apiBaseUrl: string
}

/** Hub repo names: letters, digits, `-`, `_`, `.`; at most 96 characters each side. */
const spaceIdPattern = /^([A-Za-z0-9][\w.-]{0,95})\/([A-Za-z0-9][\w.-]{0,95})$/

export function parseSpaceId(spaceId: string): { owner: string; name: string } {
  const match = spaceIdPattern.exec(spaceId.trim())
  if (!match || spaceId.includes('..')) {
    throw new ConfigurationError(`space must look like owner/name (letters, digits, - _ .), got "${spaceId}"`)
  }
  return { owner: match[1] ?? '', name: match[2] ?? '' }
}

/**
 * The app's host is `<owner>-<name>.hf.space`, lower-cased, with `.` and `_` turned into `-`
 * (the Hub's subdomain rule, e.g. `user-tmp-test-space.hf.space`).
 */
export function spaceUrls(spaceId: string): SpaceUrls {
  const { owner, name } = parseSpaceId(spaceId)
  const subdomain = `${owner}-${name}`.toLowerCase().replace(/[._]/g, '-')
  return { spaceUrl: `https://huggingface.co/spaces/${owner}/${name}`, apiBaseUrl: `https://${subdomain}.hf.space` }
}
