/**
 * Runs a committed action bundle (actions/<name>/dist/index.mjs) the way the GitHub runner does:
 * a fresh node process, INPUT_* variables built from a map with the action.yml defaults applied
 * (core never sees those defaults; the runner fills them in), and temp files behind
 * GITHUB_OUTPUT / GITHUB_STEP_SUMMARY that are parsed back after the run.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface ActionRun {
  exitCode: number
  stdout: string
  stderr: string
  outputs: Record<string, string>
  summary: string
}

const repoRoot = new URL('../../', import.meta.url).pathname
/** A hung bundle must fail its test, not the whole suite. */
const runTimeoutMs = 120_000

export async function runAction(
  name: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {},
): Promise<ActionRun> {
  const actionDir = join(repoRoot, 'actions', name)
  const defaults = parseInputDefaults(await readFile(join(actionDir, 'action.yml'), 'utf8'))
  const tempDir = await mkdtemp(join(tmpdir(), `run-action-${name}-`))
  const outputFile = join(tempDir, 'output')
  const summaryFile = join(tempDir, 'summary')
  await writeFile(outputFile, '')
  await writeFile(summaryFile, '')
  const inputEnv: Record<string, string> = {}
  for (const [input, value] of Object.entries({ ...defaults, ...inputs })) inputEnv[inputVariable(input)] = value
  try {
    const { exitCode, stdout, stderr } = await spawnNode(join(actionDir, 'dist', 'index.mjs'), {
      PATH: process.env.PATH ?? '',
      HOME: tempDir,
      RUNNER_TEMP: tempDir,
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      ...inputEnv,
      ...env,
    })
    return {
      exitCode,
      stdout,
      stderr,
      outputs: parseOutputFile(await readFile(outputFile, 'utf8')),
      summary: await readFile(summaryFile, 'utf8'),
    }
  } finally {
    await rm(tempDir, { recursive: true, force: true })
  }
}

/** The runner's rule: `INPUT_` + the id upper-cased, spaces to `_`, hyphens kept (`INPUT_HF-TOKEN`). */
export function inputVariable(input: string): string {
  return `INPUT_${input.replace(/ /g, '_').toUpperCase()}`
}

function spawnNode(script: string, env: Record<string, string>) {
  return new Promise<{ exitCode: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [script], { env, cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), runTimeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (signal) reject(new Error(`${script} killed by ${signal}\nstdout:\n${stdout}\nstderr:\n${stderr}`))
      else resolve({ exitCode: code ?? 1, stdout, stderr })
    })
  })
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

/**
 * Reads the `default:` of every input in an action.yml. There is no YAML parser among our
 * dependencies, so this understands the subset action.yml files use: block mappings, flow
 * mappings on one line (`x: { description: '…', default: 'y' }`), quoted or plain scalars,
 * and `|`/`>` block scalars.
 */
export function parseInputDefaults(actionYml: string): Record<string, string> {
  const lines = actionYml.split('\n')
  const start = lines.findIndex((line) => /^inputs:\s*(#.*)?$/.test(line))
  if (start === -1) return {}
  const defaults: Record<string, string> = {}
  let inputIndent = -1
  let current: string | undefined
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (/^\s*(#.*)?$/.test(line)) continue
    const indent = line.length - line.trimStart().length
    if (indent === 0) break
    if (inputIndent === -1) inputIndent = indent
    const entry = /^\s*([^\s:#][^:]*):\s*(.*)$/.exec(line)
    if (indent === inputIndent && entry) {
      const [, key = '', rest = ''] = entry
      current = key.trim()
      const flowDefault = /^\{.*\bdefault:\s*('(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|[^,}]*)/.exec(rest)
      if (flowDefault) defaults[current] = scalar(flowDefault[1] ?? '')
    } else if (current && indent > inputIndent && entry) {
      const isDefault = entry[1]?.trim() === 'default'
      const raw = (entry[2] ?? '').trim()
      if (/^[|>][-+]?$/.test(raw)) {
        // A block scalar's lines belong to its key, whatever they look like (a description may say "default:").
        const block: string[] = []
        while (i + 1 < lines.length) {
          const next = lines[i + 1] ?? ''
          if (next.trim() !== '' && next.length - next.trimStart().length <= indent) break
          block.push(next.trim())
          i++
        }
        if (isDefault) {
          defaults[current] = raw.startsWith('>') ? block.join(' ').trim() : block.join('\n').replace(/\n+$/, '')
        }
      } else if (isDefault) {
        defaults[current] = scalar(raw)
      }
    }
  }
  return defaults
}

function scalar(raw: string): string {
  const value = raw.trim()
  if (value.startsWith("'")) return value.slice(1, value.lastIndexOf("'")).replace(/''/g, "'")
  if (value.startsWith('"')) return JSON.parse(value.slice(0, value.lastIndexOf('"') + 1)) as string
  return value.replace(/\s+#.*$/, '')
}
