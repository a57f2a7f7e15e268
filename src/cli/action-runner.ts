/**
 * Runs a committed action bundle (actions/<name>/dist/index.mjs) from a terminal the way the GitHub
 * runner runs it: a fresh node process, INPUT_* variables with the action.yml defaults applied, and
 * temp files behind GITHUB_OUTPUT / GITHUB_STEP_SUMMARY. Unlike the test helper it streams the
 * action's output as it comes (a Space build takes minutes), rendered for a person to read.
 *
 * The CLI and the rehearsal run the phases through this, so a terminal migration executes the very
 * code a workflow run executes: nothing is implemented twice.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { inputVariable, parseInputDefaults, parseOutputFile } from '../../test/support/run-action.js'
import { renderActionOutput } from './render.js'

export interface ActionResult {
  exitCode: number
  outputs: Record<string, string>
  /** The job summary the action wrote (HTML/Markdown, as GitHub would show it). */
  summary: string
  /** Everything it printed, stdout and stderr, unrendered. */
  output: string
}

export interface RunOptions {
  /** Extra environment: endpoints such as HF_ENDPOINT or RAILWAY_API_URL. */
  env?: Record<string, string>
  /** Values never to print (tokens); masked in the rendered lines. */
  secrets?: string[]
  /** Receives each rendered line; default: stdout. */
  print?: (line: string) => void
}

/** The repository root: the folder above this file that holds actions/ and package.json. */
export function repoRoot(from = dirname(new URL(import.meta.url).pathname)): string {
  let dir = from
  while (!(existsSync(join(dir, 'actions')) && existsSync(join(dir, 'package.json')))) {
    const parent = dirname(dir)
    if (parent === dir)
      throw new Error('cannot find the zerollama repository (a folder with actions/ and package.json)')
    dir = parent
  }
  return dir
}

export async function runActionBundle(
  name: string,
  inputs: Record<string, string>,
  options: RunOptions = {},
): Promise<ActionResult> {
  const root = repoRoot()
  const actionDir = join(root, 'actions', name)
  const defaults = parseInputDefaults(await readFile(join(actionDir, 'action.yml'), 'utf8'))
  const tempDir = await mkdtemp(join(tmpdir(), `zerollama-${name}-`))
  const outputFile = join(tempDir, 'output')
  const summaryFile = join(tempDir, 'summary')
  await writeFile(outputFile, '')
  await writeFile(summaryFile, '')
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tempDir,
    RUNNER_TEMP: tempDir,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    ...options.env,
  }
  for (const [input, value] of Object.entries({ ...defaults, ...inputs })) env[inputVariable(input)] = value
  const print = options.print ?? ((line: string) => console.log(line))
  try {
    const { exitCode, output } = await spawnStreaming(join(actionDir, 'dist', 'index.mjs'), env, root, (text) => {
      for (const line of renderActionOutput(text, options.secrets)) print(line)
    })
    return {
      exitCode,
      output,
      outputs: parseOutputFile(await readFile(outputFile, 'utf8')),
      summary: await readFile(summaryFile, 'utf8'),
    }
  } finally {
    await rm(tempDir, { recursive: true, force: true })
  }
}

/** Spawns node on `script`, handing complete lines to `onLines` as they arrive. */
function spawnStreaming(
  script: string,
  env: Record<string, string>,
  cwd: string,
  onLines: (text: string) => void,
): Promise<{ exitCode: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const pending = { stdout: '', stderr: '' }
    const feed = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = chunk.toString()
      output += text
      const lines = (pending[stream] + text).split('\n')
      pending[stream] = lines.pop() ?? ''
      if (lines.length > 0) onLines(lines.join('\n'))
    }
    child.stdout.on('data', feed('stdout'))
    child.stderr.on('data', feed('stderr'))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      for (const rest of [pending.stdout, pending.stderr]) if (rest) onLines(rest)
      resolve({ exitCode: signal ? 1 : (code ?? 1), output })
    })
  })
}
