/**
 * The Space folder as the pull request's base branch holds it, read from git: what a plan can still
 * compare against when it may not ask the Hub (a PR from a fork). On a `pull_request` checkout HEAD is
 * the merge of the PR into its base, so HEAD^1 is the base (it needs `fetch-depth: 2`).
 */
import { execFile } from 'node:child_process'
import { relative } from 'node:path'
import { promisify } from 'node:util'
import { isUploadable, type SpaceFile, sameContent } from '../hf/space-files.js'

const run = promisify(execFile)

export interface BaseDiff {
  /** The commit compared against (`HEAD^1` resolved). */
  base: string
  changed: string[]
  added: string[]
  deleted: string[]
}

/** Git blob ids of the files under `folder` at `ref`, keyed by their path inside the folder; undefined when git cannot tell. */
export async function baseTree(
  root: string,
  folder: string,
  ref: string,
): Promise<{ sha: string; oids: Map<string, string> } | undefined> {
  const prefix = relative(root, folder).split('\\').join('/')
  try {
    const { stdout: sha } = await run('git', ['-C', root, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`])
    const { stdout } = await run('git', ['-C', root, 'ls-tree', '-r', '-z', sha.trim(), '--', `${prefix}/`], {
      maxBuffer: 64 * 1024 * 1024,
    })
    const oids = new Map<string, string>()
    for (const record of stdout.split('\0')) {
      // `<mode> blob <oid>\t<path>`
      const match = /^\d+ blob ([0-9a-f]{40,64})\t(.+)$/.exec(record)
      if (!match) continue
      const path = (match[2] ?? '').slice(prefix.length + 1)
      if (isUploadable(path)) oids.set(path, match[1] ?? '')
    }
    return { sha: sha.trim(), oids }
  } catch {
    return undefined
  }
}

/** The Space files that differ from the base branch's, by the same hash rule as the live comparison. */
export async function diffAgainstBase(
  root: string,
  folder: string,
  files: SpaceFile[],
  ref = 'HEAD^1',
): Promise<BaseDiff | undefined> {
  const tree = await baseTree(root, folder, ref)
  if (!tree) return undefined
  const changed = files.filter((file) => {
    const oid = tree.oids.get(file.path)
    return oid === undefined || !sameContent(file, { oid })
  })
  const local = new Set(files.map((file) => file.path))
  return {
    base: tree.sha,
    changed: changed.map((file) => file.path),
    added: changed.filter((file) => !tree.oids.has(file.path)).map((file) => file.path),
    deleted: [...tree.oids.keys()].filter((path) => !local.has(path)),
  }
}
