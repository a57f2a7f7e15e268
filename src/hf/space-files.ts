/**
 * The files that make up a Space, read from a local folder and hashed the way the Hub identifies
 * them, so an upload can skip every file the Space already holds.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { ConfigurationError } from '../errors.js'

export interface SpaceFile {
  /** Path inside the Space repo, always with forward slashes. */
  path: string
  content: Buffer
  /** The git blob id the Hub reports as `oid` for a regular file. */
  gitOid: string
  /** The sha256 the Hub reports as `lfs.oid` when it stored the file with LFS. */
  sha256: string
}

export type SpaceSdk = 'gradio' | 'docker'

/** Local clutter that must never reach the Space (caches, virtualenvs, editor and VCS folders). */
const ignoredNames = new Set(['__pycache__', 'node_modules', '.venv', '.git', '.pytest_cache', '.ruff_cache'])
const keptDotFiles = new Set(['.gitattributes', '.dockerignore'])
const ignoredSuffixes = ['.pyc', '.pyo']
/** A README written for the Docker runtime, uploaded as README.md instead of the Gradio one. */
export const dockerReadmePath = 'docker/space-readme.md'
/** Docker Spaces listen on 7860 unless the README front matter says otherwise. */
const defaultDockerPort = 7860

export function gitBlobOid(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex')
}

/**
 * Whether a stored copy holds the same content as `file`: compared by LFS sha256 when it was stored
 * through LFS, else by git blob id. The one rule for the live Space (the Hub's tree) and for a git tree.
 */
export function sameContent(file: SpaceFile, stored: { oid?: string; lfs?: { oid: string } }): boolean {
  return stored.lfs ? stored.lfs.oid === file.sha256 : stored.oid === file.gitOid
}

export function toSpaceFile(path: string, content: Buffer): SpaceFile {
  return { path, content, gitOid: gitBlobOid(content), sha256: createHash('sha256').update(content).digest('hex') }
}

/**
 * Reads the folder that becomes the Space. The Hub picks the SDK from README.md's front matter, so
 * for the `docker` SDK README.md is replaced by the Docker README (see dockerReadme); for ZeroGPU it
 * must declare the Gradio SDK.
 */
export async function readSpaceFolder(folder: string, sdk: SpaceSdk): Promise<SpaceFile[]> {
  const paths = await listFolder(folder).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new ConfigurationError(`space folder ${folder} does not exist`)
    throw error
  })
  const files = new Map<string, Buffer>()
  for (const path of paths) files.set(path, await readFile(join(folder, path)))
  if (sdk === 'docker') {
    files.set('README.md', Buffer.from(dockerReadme(folder, files)))
  } else {
    const readme = files.get('README.md')
    if (!readme) throw new ConfigurationError(`${folder}/README.md is missing: the Hub reads the Space's SDK from it`)
    const declared = frontMatterValue(readme.toString('utf8'), 'sdk')
    if (declared !== 'gradio') {
      throw new ConfigurationError(
        `${folder}/README.md declares sdk: ${declared ?? '(none)'}; ZeroGPU runs only Gradio Spaces (set sdk: gradio)`,
      )
    }
  }
  return [...files].map(([path, content]) => toSpaceFile(path, content))
}

async function listFolder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true })
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .filter(isUploadable)
    .sort()
}

/**
 * The Space runs the app, not its test suite or the local demo's stand-in models (the server reaches
 * zerollama/demo only when ZEROLLAMA_DEMO is set): a change to either must not rebuild and restart it.
 */
const ignoredFolders = ['tests/', 'zerollama/demo/']

/** Whether a path inside the Space folder is part of the Space (not a test, cache, dot-file or the demo). */
export function isUploadable(path: string): boolean {
  if (ignoredFolders.some((folder) => path.startsWith(folder))) return false
  return path.split('/').every(isUploadableName)
}

function isUploadableName(segment: string): boolean {
  if (ignoredNames.has(segment) || ignoredSuffixes.some((suffix) => segment.endsWith(suffix))) return false
  return !segment.startsWith('.') || keptDotFiles.has(segment)
}

/**
 * The README a Docker Space gets: the folder's own Docker README (docker/space-readme.md, written for
 * this runtime) when present, else the Gradio README with its front matter rewritten.
 */
function dockerReadme(folder: string, files: Map<string, Buffer>): string {
  const dockerfile = files.get('Dockerfile')
  if (!dockerfile) throw new ConfigurationError(`runtime docker needs ${folder}/Dockerfile`)
  const own = files.get(dockerReadmePath)?.toString('utf8')
  const readme = files.get('README.md')?.toString('utf8')
  if (!own && !readme) throw new ConfigurationError(`${folder} has neither ${dockerReadmePath} nor README.md`)
  const text = own ?? toDockerReadme(readme ?? '', exposedPort(dockerfile.toString()))
  if (frontMatterValue(text, 'sdk') !== 'docker') {
    throw new ConfigurationError(`${folder}/${dockerReadmePath} must declare sdk: docker in its front matter`)
  }
  return text
}

/** The Dockerfile's first EXPOSE port; Docker Spaces route traffic to exactly one port. */
export function exposedPort(dockerfile: string): number {
  const match = /^\s*EXPOSE\s+(\d+)/im.exec(dockerfile)
  return match ? Number(match[1]) : defaultDockerPort
}

interface FrontMatter {
  /** Top-level entries in order; each keeps its continuation lines (lists, nested maps). */
  entries: Array<{ key: string; lines: string[] }>
  body: string
}

function splitFrontMatter(readme: string): FrontMatter | undefined {
  const match = /^---\r?\n([\s\S]*?)\r?\n---(\r?\n|$)/.exec(readme)
  if (!match) return undefined
  const entries: FrontMatter['entries'] = []
  for (const line of (match[1] ?? '').split(/\r?\n/)) {
    const key = /^([A-Za-z_][\w-]*):/.exec(line)?.[1]
    const last = entries.at(-1)
    if (key) entries.push({ key, lines: [line] })
    else if (last) last.lines.push(line)
  }
  return { entries, body: readme.slice(match[0].length) }
}

/** A top-level scalar from the README front matter, unquoted; undefined when absent. */
export function frontMatterValue(readme: string, key: string): string | undefined {
  const entry = splitFrontMatter(readme)?.entries.find((e) => e.key === key)
  const raw = entry?.lines[0]?.slice(key.length + 1).trim()
  return raw?.replace(/^(['"])(.*)\1$/, '$2')
}

/** Gradio-only keys go; sdk and app_port are set for Docker. Everything else is kept as written. */
export function toDockerReadme(readme: string, appPort: number): string {
  const frontMatter = splitFrontMatter(readme)
  if (!frontMatter) throw new ConfigurationError('README.md has no front matter (--- ... ---) to declare the SDK')
  const gradioOnly = new Set(['sdk', 'sdk_version', 'app_file', 'app_port', 'python_version'])
  const kept = frontMatter.entries.filter((entry) => !gradioOnly.has(entry.key)).flatMap((entry) => entry.lines)
  return ['---', ...kept, 'sdk: docker', `app_port: ${appPort}`, '---', ''].join('\n') + frontMatter.body
}
