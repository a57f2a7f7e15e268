/**
 * Runs a committed action bundle (actions/<name>/dist/index.mjs) the way the GitHub runner does: a fresh
 * node process, INPUT_* variables with the action.yml defaults applied (core never sees those defaults;
 * the runner fills them in), and temp files behind GITHUB_OUTPUT / GITHUB_STEP_SUMMARY, parsed back after
 * the run. Output can be streamed as it comes (a Space build takes minutes), rendered for a person.
 *
 * The CLI, the rehearsal and the bundle tests all run the phases through this, so a terminal migration
 * executes the very code a workflow run executes: nothing is implemented twice.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseInputDefaults } from '../action-yml.js'
import { actionOutputRenderer } from './render.js'

export interface ActionResult {
  exitCode: number
  outputs: Record<string, string>
  /** The job summary the action wrote (HTML/Markdown, as GitHub would show it). */
  summary: string
  stdout: string
  stderr: string
  /** Everything it printed, stdout and stderr in arrival order, unrendered. */
  output: string
}

export interface RunOptions {
  /** Extra environment: endpoints such as HF_ENDPOINT or RAILWAY_API_URL. */
  env?: Record<string, string>
  /** Values never to print (tokens); masked in the rendered lines, as is every value the action masks. */
  secrets?: string[]
  /** Receives each rendered line as it arrives; default: stdout. `null` prints nothing. */
  print?: ((line: string) => void) | null
  /** Kills a bundle that runs longer (tests: a hung bundle must fail its test, not the suite). */
  timeoutMs?: number
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
  const defaults = withoutExpressions(parseInputDefaults(await readFile(join(actionDir, 'action.yml'), 'utf8')))
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
  const print = options.print === undefined ? (line: string) => console.log(line) : options.print
  try {
    const render = actionOutputRenderer(options.secrets)
    const onLines = print ? (text: string) => render(text).forEach(print) : () => {}
    const run = await spawnStreaming(join(actionDir, 'dist', 'index.mjs'), env, root, onLines, options.timeoutMs)
    return {
      ...run,
      outputs: parseOutputFile(await readFile(outputFile, 'utf8')),
      summary: await readFile(summaryFile, 'utf8'),
    }
  } finally {
    await rm(tempDir, { recursive: true, force: true })
  }
}

/**
 * A default such as `${{ github.token }}` is an expression only the runner can evaluate; outside it
 * the input is empty, so nothing is sent anywhere with a literal "${{ … }}" for a token.
 */
function withoutExpressions(defaults: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(defaults).map(([k, v]) => [k, v.includes('${{') ? '' : v]))
}

/** Spawns node on `script`, handing complete lines to `onLines` as they arrive. */
function spawnStreaming(
  script: string,
  env: Record<string, string>,
  cwd: string,
  onLines: (text: string) => void,
  timeoutMs?: number,
): Promise<{ exitCode: number; stdout: string; stderr: string; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const pending = { stdout: '', stderr: '' }
    const captured = { stdout: '', stderr: '' }
    const feed = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = chunk.toString()
      output += text
      captured[stream] += text
      const lines = (pending[stream] + text).split('\n')
      pending[stream] = lines.pop() ?? ''
      if (lines.length > 0) onLines(lines.join('\n'))
    }
    child.stdout.on('data', feed('stdout'))
    child.stderr.on('data', feed('stderr'))
    const timer = timeoutMs ? setTimeout(() => child.kill('SIGKILL'), timeoutMs) : undefined
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      for (const rest of [pending.stdout, pending.stderr]) if (rest) onLines(rest)
      if (signal === 'SIGKILL' && timeoutMs)
        reject(new Error(`${script} ran past ${timeoutMs} ms and was killed\noutput:\n${output}`))
      else resolve({ exitCode: signal ? 1 : (code ?? 1), ...captured, output })
    })
  })
}

/** The runner's rule: `INPUT_` + the id upper-cased, spaces to `_`, hyphens kept (`INPUT_HF-TOKEN`). */
export function inputVariable(input: string): string {
  return `INPUT_${input.replace(/ /g, '_').toUpperCase()}`
}

/** Parses core's file-command format: `name<<delimiter\nvalue\ndelimiter\n` (and plain `name=value`). */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const [, key = '', delimiter = ''] = heredoc
      const end = lines.indexOf(delimiter, i + 1)
      if (end === -1) throw new Error(`output ${key} has no closing delimiter ${delimiter}`)
      outputs[key] = lines.slice(i + 1, end).join('\n')
      i = end
    } else if (line.includes('=')) {
      const at = line.indexOf('=')
      outputs[line.slice(0, at)] = line.slice(at + 1)
    }
  }
  return outputs
}
