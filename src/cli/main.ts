/**
 * `npx zerollama <command>`: the migration's phases from a terminal, for operators whose repository
 * cannot have required reviewers (a private repo on a free plan). The gates become typed
 * confirmations, shown after the validation figures. The phases are the committed actions themselves.
 */

import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { parseArgs } from 'node:util'
import { readInputDefaults } from '../action-yml.js'
import { defaultModelNames } from '../catalog.js'
import { errorMessage } from '../errors.js'
import { SpaceManager } from '../hf/space-manager.js'
import type { Logger } from '../logger.js'
import { RailwayClient, TOKEN_KINDS } from '../railway/client.js'
import { displayUrl } from '../railway/plans.js'
import { readRailwayStatus } from '../railway/switch.js'
import { redact } from '../secrets.js'
import { repoRoot } from './action-runner.js'
import { Migration, type MigrationSettings, PhaseFailed, TARGETS, type Target } from './pipeline.js'
import { formatTable } from './render.js'

/** The Railway names' defaults live in switch-railway's action.yml; the CLI reads them from there. */
const RAILWAY = readInputDefaults(join(repoRoot(), 'actions', 'switch-railway', 'action.yml'))

export const USAGE = `zerollama — move Cognitia's Ollama backend to a Hugging Face ZeroGPU Space (or Inference Endpoint)

usage:
  zerollama plan     --space owner/name [options]   dry run: what create-space and the switch would change
  zerollama migrate  --space owner/name [options]   every phase, with a typed confirmation at each gate
  zerollama rollback [railway options]              put Cognitia back on the recorded Railway Ollama URL
  zerollama status   [--space owner/name]           where Cognitia points now, and the Space's stage

options:
  --target space|endpoint
                         space (default): a ZeroGPU Space; endpoint: a dedicated Inference Endpoint
                         running real Ollama (--space then names it namespace/name; see docs/runbook.md §9)
  --models LIST          catalog names (default: ${defaultModelNames().join(', ')}, from space/models.json)
  --public               create a public Space (default private; Cognitia then sends an HF token)
  --health-url URL       Cognitia's health URL, checked after the switch
  --project NAME|ID      Railway project (a project token already names it)
  --environment NAME     Railway environment (default ${RAILWAY['railway-environment']})
  --service NAME         Cognitia's Railway service (default ${RAILWAY['railway-service']})
  --ollama-service NAME  the old Ollama service (default ${RAILWAY['ollama-service']})
  --dry-run              rollback: show the change, make none
  --restore-default      rollback: with no usable record of the replaced URL, restore
                         http://ollama.railway.internal:11434 (otherwise rollback stops and says why)

environment:
  HF_TOKEN               Hugging Face token with write access to the Space's owner
  RAILWAY_TOKEN          Railway token; RAILWAY_TOKEN_KIND = project (default), workspace or account
  ZEROLLAMA_API_KEY      the Space's shared key, when it has one
`

export interface CliIo {
  stdin: Readable
  print: (line: string) => void
  env: Record<string, string | undefined>
}

class UsageError extends Error {}

const options = {
  space: { type: 'string' },
  target: { type: 'string', default: 'space' },
  // Empty: each action falls back to the catalog's default_models.
  models: { type: 'string', default: '' },
  public: { type: 'boolean', default: false },
  'health-url': { type: 'string', default: '' },
  project: { type: 'string', default: '' },
  environment: { type: 'string', default: RAILWAY['railway-environment'] },
  service: { type: 'string', default: RAILWAY['railway-service'] },
  'ollama-service': { type: 'string', default: RAILWAY['ollama-service'] },
  'dry-run': { type: 'boolean', default: false },
  'restore-default': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const

type Flags = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values']

function required(env: CliIo['env'], name: string): string {
  const value = env[name]?.trim()
  if (!value) throw new UsageError(`set ${name} in the environment (see --help)`)
  return value
}

function tokenKind(env: CliIo['env']): MigrationSettings['railway']['tokenKind'] {
  const kind = env.RAILWAY_TOKEN_KIND || 'project'
  if (!(TOKEN_KINDS as readonly string[]).includes(kind)) {
    throw new UsageError(`RAILWAY_TOKEN_KIND must be one of ${TOKEN_KINDS.join(', ')}, got "${kind}"`)
  }
  return kind as MigrationSettings['railway']['tokenKind']
}

function railwaySettings(flags: Flags, env: CliIo['env']): MigrationSettings['railway'] {
  return {
    token: required(env, 'RAILWAY_TOKEN'),
    tokenKind: tokenKind(env),
    project: flags.project,
    environment: flags.environment,
    service: flags.service,
    ollamaService: flags['ollama-service'],
  }
}

/** Endpoint overrides handed to the actions (the tests point them at the fakes). */
function endpoints(env: CliIo['env']): Record<string, string> {
  return Object.fromEntries(
    ['HF_ENDPOINT', 'HF_ENDPOINTS_API_URL', 'RAILWAY_API_URL'].filter((k) => env[k]).map((k) => [k, env[k] as string]),
  )
}

function settingsFrom(flags: Flags, env: CliIo['env'], dryRun: boolean): MigrationSettings {
  if (!flags.space) throw new UsageError('--space owner/name is required')
  if (!(TARGETS as readonly string[]).includes(flags.target)) {
    throw new UsageError(`--target must be one of ${TARGETS.join(', ')}, got "${flags.target}"`)
  }
  return {
    space: flags.space,
    target: flags.target as Target,
    models: flags.models,
    private: !flags.public,
    hfToken: required(env, 'HF_TOKEN'),
    apiKey: env.ZEROLLAMA_API_KEY ?? '',
    railway: railwaySettings(flags, env),
    healthUrl: flags['health-url'],
    dryRun,
    env: endpoints(env),
    // Only for trying the CLI against a local server (tests); a real run talks to the Space's own URL.
    ollamaBaseUrl: env.ZEROLLAMA_BASE_URL || undefined,
  }
}

/** Asks for the gate's word on stdin; anything else, or the end of input, stops the migration. */
function typedApproval(io: CliIo) {
  const lines = createInterface({ input: io.stdin, terminal: false })[Symbol.asyncIterator]()
  return async (gate: { environment: string; action: string; word: string }) => {
    io.print(`   Approving will ${gate.action}.`)
    io.print(`   Type "${gate.word}" to approve (anything else stops here):`)
    const answer = await lines.next()
    const approved = !answer.done && String(answer.value).trim() === gate.word
    io.print(approved ? `   ✓ ${gate.environment} approved` : `   ✗ ${gate.environment} not approved`)
    return approved
  }
}

async function migrate(flags: Flags, io: CliIo, dryRun: boolean): Promise<number> {
  const migration = new Migration(settingsFrom(flags, io.env, dryRun), { print: io.print, approve: typedApproval(io) })
  try {
    await migration.run()
  } catch (error) {
    if (!(error instanceof PhaseFailed)) throw error
    io.print(`\n✗ ${error.message}`)
  }
  io.print('')
  io.print(
    formatTable(
      ['phase', 'result', 'time', 'figures'],
      migration.records.map((r) => [
        r.phase,
        r.result,
        r.seconds ? `${r.seconds.toFixed(1)} s` : '',
        r.figures.filter(Boolean).join('\n'),
      ]),
    ),
  )
  return migration.records.every((r) => r.result === 'ok' || r.result === 'planned') ? 0 : 1
}

async function rollback(flags: Flags, io: CliIo): Promise<number> {
  // Rollback touches Railway only: no Space, no HF token, and no gate (going back must not wait).
  const settings: MigrationSettings = {
    space: flags.space ?? '',
    models: '',
    private: false,
    hfToken: '',
    apiKey: '',
    railway: railwaySettings(flags, io.env),
    healthUrl: '',
    dryRun: flags['dry-run'],
    env: endpoints(io.env),
    switchInputs: { 'restore-default': String(flags['restore-default']) },
  }
  const migration = new Migration(settings, { print: io.print, approve: async () => false })
  try {
    await migration.railwayMode('rollback')
    return 0
  } catch (error) {
    if (!(error instanceof PhaseFailed)) throw error
    io.print(`\n✗ ${error.message}`)
    return 1
  }
}

/** Read-only: Railway's side through src/railway, the Space's stage through src/hf. */
async function status(flags: Flags, io: CliIo): Promise<number> {
  const logger: Logger = {
    info: io.print,
    warning: (m) => io.print(`warning: ${m}`),
    debug: (m) => (io.env.ZEROLLAMA_DEBUG ? io.print(`debug: ${m}`) : undefined),
    group: (_name, fn) => fn(),
  }
  const client = new RailwayClient({
    token: required(io.env, 'RAILWAY_TOKEN'),
    tokenKind: tokenKind(io.env),
    endpoint: io.env.RAILWAY_API_URL || undefined,
    logger,
  })
  const railway = await readRailwayStatus(client, {
    project: flags.project || undefined,
    environment: flags.environment,
    service: flags.service,
    ollamaService: flags['ollama-service'],
    variable: RAILWAY.variable ?? '',
    hfTokenVariable: RAILWAY['hf-token-variable'] ?? '',
  })
  const rows = [
    ['Railway', `${railway.projectName} / ${railway.environmentName}`],
    [`${flags.service} OLLAMA_BASE_URL`, displayUrl(railway.currentUrl)],
    [
      'rollback would leave',
      railway.rollbackUrl ? displayUrl(railway.rollbackUrl) : `(stops) ${railway.rollbackProblem}`,
    ],
    [
      `${flags['ollama-service']} service`,
      railway.ollamaRunning === undefined ? 'absent' : railway.ollamaRunning ? 'running' : 'stopped',
    ],
  ]
  if (flags.space && io.env.HF_TOKEN) {
    const manager = new SpaceManager({ token: io.env.HF_TOKEN, hubUrl: io.env.HF_ENDPOINT || undefined, logger })
    const space = `Space ${flags.space}`
    try {
      const runtime = await manager.getRuntime(flags.space)
      const hardware = runtime.hardware.current ?? runtime.hardware.requested ?? 'no hardware'
      rows.push([space, `${runtime.stage} on ${hardware}`])
    } catch (error) {
      rows.push([space, `cannot read it: ${errorMessage(error)}`])
    }
    rows.push(['Space API', manager.spaceUrls(flags.space).apiBaseUrl])
  }
  io.print(formatTable(['what', 'now'], rows))
  return 0
}

/** The environment variables that hold credentials: their values never reach the terminal. */
const SECRET_ENV = ['HF_TOKEN', 'RAILWAY_TOKEN', 'ZEROLLAMA_API_KEY'] as const

/**
 * The one redaction of the CLI: every line goes through it before it is printed, whatever produced
 * it (an action's output, an upstream error that echoes request headers, a table), and every form
 * of each token (as given, URL-encoded, base64) becomes `***`.
 */
function redactingIo(io: CliIo): CliIo {
  const secrets = SECRET_ENV.map((name) => io.env[name] ?? '').filter(Boolean)
  return { ...io, print: (line) => io.print(redact(line, secrets)) }
}

export async function main(argv: string[], rawIo: CliIo): Promise<number> {
  const io = redactingIo(rawIo)
  try {
    const { values: flags, positionals } = parseArgs({ args: argv, options, allowPositionals: true })
    const [command] = positionals
    if (flags.help || !command) {
      io.print(USAGE)
      return command || flags.help ? 0 : 2
    }
    if (command === 'plan') return await migrate(flags, io, true)
    if (command === 'migrate') return await migrate(flags, io, false)
    if (command === 'rollback') return await rollback(flags, io)
    if (command === 'status') return await status(flags, io)
    throw new UsageError(`unknown command "${command}"`)
  } catch (error) {
    io.print(`zerollama: ${errorMessage(error)}`)
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) {
      io.print('run `zerollama --help` for the commands and options')
      return 2
    }
    return 1
  }
}
