/**
 * `npm start`: the whole migration, rehearsed on this machine with nothing real at stake.
 *
 * Starts a Hugging Face Hub fake and a Railway fake seeded as Cognitia's real setup, starts the real
 * space/ server on CPU with tiny models, then runs the four committed action bundles in the order of
 * .github/workflows/migrate.yml — create the Space, pull the models, validate, [gate], switch
 * Cognitia, validate Cognitia's side, [gate], decommission the old Ollama — and finally rolls back.
 * Ends with one summary table; exits non-zero naming the failing phase.
 *
 *   npm start                      the rehearsal
 *   npm start -- --target endpoint the same with a dedicated Inference Endpoint (create-endpoint against
 *                                  the Endpoints API fake) in place of the ZeroGPU Space
 *   npm start -- --report out.json also write the phases and the final Railway state as JSON
 *   npm start -- --serve --env-file <file>
 *                                  only start the fakes and the server, append their endpoints to
 *                                  <file> (CI's $GITHUB_ENV) and keep running until stopped
 */
import { appendFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { defaultModelNames } from '../src/catalog.js'
import { Migration, PhaseFailed, type PhaseRecord, TARGETS, type Target } from '../src/cli/pipeline.js'
import { findLeaks, formatTable } from '../src/cli/render.js'
import { fakeToken, startHfFake } from '../test/fakes/hf.js'
import { startEndpointsFake } from '../test/fakes/hf-endpoints.js'
import { COGNITIA, cognitiaSeed, startRailwayFake } from '../test/fakes/railway.js'

/** scripts/lib/space-server.mjs is plain JavaScript; this is the part of its interface used here. */
interface SpaceServer {
  url: string
  stop(): Promise<void>
}
const { startSpaceServer } = (await import(new URL('./lib/space-server.mjs', import.meta.url).href)) as {
  startSpaceServer(options: {
    port?: number
    env?: Record<string, string>
    log?: (line: string) => void
  }): Promise<SpaceServer>
}

const SPACE = 'cognitia/zerollama'
/** The URL the Endpoints API fake gives the endpoint; as with the Space, its Ollama traffic goes to the local server. */
const ENDPOINT_URL = 'https://cognitia-zerollama.us-east-1.aws.endpoints.huggingface.cloud'
/** Where the operator moves Cognitia after the first cycle: the second switch must record this, not the first URL. */
const OLLAMA_V2 = 'http://ollama-v2.railway.internal:11434'
const MODELS = defaultModelNames().join(', ')
/** The local server's shared key: it stands in for HF's own gate in front of a private Space. */
const API_KEY = 'zl-rehearsal-key-0f3c9a'
/** What a 2-core CPU with tiny models can be held to; every other check runs as in a real migration. */
const CPU_THRESHOLDS = { 'require-gpu': 'false', 'tokens-per-second-min': '1', 'ttft-ms-max': '10000' }

const { values: args } = parseArgs({
  options: {
    report: { type: 'string' },
    serve: { type: 'boolean' },
    'env-file': { type: 'string' },
    target: { type: 'string', default: 'space' },
  },
})
if (!(TARGETS as readonly string[]).includes(args.target)) {
  console.error(`--target must be one of ${TARGETS.join(', ')}, got "${args.target}"`)
  process.exit(2)
}
const target = args.target as Target
const started = Date.now()
const print = (line = '') => console.log(line)
const seconds = () => ((Date.now() - started) / 1000).toFixed(1)

/** The last lines the Space server printed: shown only when something fails, or with ZEROLLAMA_DEBUG. */
const serverLog: string[] = []
function serverLine(line: string) {
  serverLog.push(line)
  if (serverLog.length > 60) serverLog.shift()
  if (process.env.ZEROLLAMA_DEBUG) print(`  [space] ${line}`)
}

/**
 * The fakes start in milliseconds; the Python server takes a while (torch, gradio, tiny models), so it
 * boots while create-space runs against the HF fake, and pull-models waits for it.
 */
async function startEverything() {
  print('Starting the stand-ins (nothing here talks to Hugging Face or Railway):')
  const server = startSpaceServer({ port: 0, env: { ZEROLLAMA_API_KEY: API_KEY }, log: serverLine })
  server.catch(() => undefined)
  const fakes = Promise.all([
    startHfFake({ buildPolls: 1, startingPolls: 0 }),
    startRailwayFake(cognitiaSeed()),
    startEndpointsFake({
      users: [{ token: fakeToken, name: 'alice', orgs: ['cognitia'] }],
      initializingPolls: 0,
      urlFor: () => ENDPOINT_URL,
    }),
  ])
  const [hf, railway, endpoints] = await fakes.catch(async (error: unknown) => {
    // Never leave the Python server running behind a failed start.
    await (await server.catch(() => undefined))?.stop()
    throw error
  })
  print(`  Hugging Face Hub fake   ${hf.url}`)
  print(`  Endpoints API fake      ${endpoints.url}`)
  print(`  Railway GraphQL fake    ${railway.url}  (every document checked against the real schema)`)
  print('  space/ server on CPU    starting in the background (tiny random-weight models of the catalog)')
  return { hf, railway, endpoints, server }
}

type Services = Awaited<ReturnType<typeof startEverything>>

function railwayState(railway: Services['railway']) {
  return {
    ollamaBaseUrl: railway.state.variable('cognitia', 'OLLAMA_BASE_URL'),
    previousUrl: railway.state.variable('cognitia', 'ZEROLLAMA_PREVIOUS_OLLAMA_BASE_URL'),
    ollamaRunning: railway.state.isRunning('ollama'),
    cognitiaRunning: railway.state.isRunning('cognitia'),
  }
}

function showState(railway: Services['railway'], when: string) {
  const state = railwayState(railway)
  print(
    `\n   Railway ${when}: cognitia OLLAMA_BASE_URL = ${state.ollamaBaseUrl}; ollama service ${state.ollamaRunning ? 'running' : 'stopped'}`,
  )
}

async function rehearse(services: Services): Promise<{ records: PhaseRecord[]; problems: string[] }> {
  const { hf, railway, endpoints } = services
  let announced = false
  const serverUrl = async () => {
    const { url } = await services.server
    if (!announced) print(`   (space/ server on CPU ready at ${url}, ${seconds()} s after the start)`)
    announced = true
    return url
  }
  const migration = new Migration(
    {
      space: SPACE,
      target,
      models: MODELS,
      private: true,
      hfToken: fakeToken,
      apiKey: API_KEY,
      railway: {
        token: COGNITIA.projectToken,
        tokenKind: 'project',
        project: '',
        environment: 'production',
        service: 'cognitia',
        ollamaService: 'ollama',
      },
      healthUrl: '',
      dryRun: false,
      env: { HF_ENDPOINT: hf.url, HF_ENDPOINTS_API_URL: endpoints.url, RAILWAY_API_URL: railway.url },
      ollamaBaseUrl: serverUrl,
      validateInputs: CPU_THRESHOLDS,
      // The fake moves a deployment one step per status read; no need to wait between reads.
      switchInputs: { 'poll-interval-seconds': '0' },
    },
    {
      print,
      approve: async (gate) => {
        print(`   ✓ ${gate.environment} — approved for this rehearsal (a real run waits for a reviewer)`)
        return true
      },
    },
  )
  showState(railway, 'before')
  const own =
    target === 'endpoint'
      ? `endpoint's own URL will be ${ENDPOINT_URL}`
      : "Space's own URL will be https://cognitia-zerollama.hf.space"
  print(`\n   The ${own}; in this rehearsal the Ollama`)
  print('   traffic of pull-models and validate goes to the local space/ server instead, on CPU. A CPU cannot')
  print('   meet the GPU thresholds (> 50 tokens/s, GPU in use), so validate holds it to CPU ones here:')
  print(
    `   ${Object.entries(CPU_THRESHOLDS)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}; a real run uses the defaults.`,
  )
  try {
    await migration.run()
    showState(railway, 'after the migration')
    await migration.railwayMode('rollback')
    showState(railway, 'after the rollback')
    await switchOverStaleRecord(migration, railway)
  } catch (error) {
    if (!(error instanceof PhaseFailed)) throw error
    print(`\n✗ ${error.message}`)
  }

  const problems: string[] = []
  const failed = migration.records.find((r) => r.result !== 'ok')
  if (failed) problems.push(`phase ${failed.phase} ${failed.result}`)
  const state = railwayState(railway)
  if (state.ollamaBaseUrl !== OLLAMA_V2) problems.push(`OLLAMA_BASE_URL is ${state.ollamaBaseUrl} after rollback`)
  if (!state.ollamaRunning) problems.push('the old ollama service is not running after rollback')
  const leaks = findLeaks(Object.fromEntries(migration.transcript.map((text, i) => [`phase output ${i + 1}`, text])), [
    fakeToken,
    COGNITIA.projectToken,
    API_KEY,
  ])
  if (leaks.length > 0) problems.push(`a token appeared in: ${leaks.join(', ')}`)
  return { records: migration.records, problems }
}

/**
 * The operator later moves Cognitia to another Ollama by hand; the first cycle's record stays behind.
 * A second switch must record the value it replaces, so the second rollback lands on the new Ollama.
 */
async function switchOverStaleRecord(migration: Migration, railway: Services['railway']) {
  print(`\n   The operator now moves Cognitia to ${OLLAMA_V2} by hand (the old record stays), then switches again.`)
  railway.state.setVariable(COGNITIA.cognitiaServiceId, COGNITIA.environmentId, 'OLLAMA_BASE_URL', OLLAMA_V2)
  await migration.switchRailway('switch again')
  await migration.railwayMode('rollback', 'rollback again')
  showState(railway, 'after the second rollback')
}

function closingTable(records: PhaseRecord[]) {
  print('\n━━ summary')
  print(
    formatTable(
      ['phase', 'result', 'time', 'figures'],
      records.map((r) => [
        r.phase,
        r.result,
        r.seconds ? `${r.seconds.toFixed(1)} s` : '',
        r.figures.filter(Boolean).join('\n'),
      ]),
    ),
  )
}

function realRunNeeds() {
  print('\nA real run needs (docs/runbook.md):')
  print('  • environments huggingface, production, decommission and rollback holding the secrets HF_TOKEN')
  print('    (write access to the Space owner) and RAILWAY_TOKEN (project token of production), as §1 lists;')
  print('    production and decommission with required reviewers (public repo or paid plan),')
  print('    or the same gates from a terminal: npx zerollama migrate --space owner/name')
  print('  • a Hugging Face account that may use ZeroGPU (PRO or an organisation plan)')
  print('  • then Actions → "Move Ollama to ZeroGPU" → Run workflow (dry-run first)')
}

async function serve(envFile: string | undefined) {
  const services = await startEverything()
  const lines = {
    HF_ENDPOINT: services.hf.url,
    HF_ENDPOINTS_API_URL: services.endpoints.url,
    RAILWAY_API_URL: services.railway.url,
    ZEROLLAMA_BASE_URL: (await services.server).url,
    ZEROLLAMA_API_KEY: API_KEY,
    FAKE_HF_TOKEN: fakeToken,
    FAKE_RAILWAY_TOKEN: COGNITIA.projectToken,
  }
  const text = Object.entries(lines)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('')
  if (envFile) appendFileSync(envFile, text)
  else process.stdout.write(text)
  print('serving until stopped (Ctrl-C)')
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await stopEverything(services)
}

async function stopEverything(services: Services) {
  const server = await services.server.catch(() => undefined)
  await server?.stop()
  await services.hf.close()
  await services.endpoints.close()
  await services.railway.close()
}

async function main(): Promise<number> {
  if (args.serve) {
    await serve(args['env-file'])
    return 0
  }
  const to = target === 'endpoint' ? 'an Inference Endpoint' : 'a ZeroGPU Space'
  print(`zerollama rehearsal — the migration of Cognitia from Railway Ollama to ${to}, end to end\n`)
  let services: Services
  try {
    services = await startEverything()
  } catch (error) {
    print(`\n✗ rehearsal FAILED while starting the stand-ins: ${error instanceof Error ? error.message : error}`)
    return 1
  }
  const outcome = await rehearse(services).catch((error: unknown) => ({
    records: [] as PhaseRecord[],
    problems: [`the rehearsal itself broke: ${error instanceof Error ? error.stack : error}`],
  }))
  // The Railway fake refuses to close when any request carried a document the real schema rejects.
  await stopEverything(services).catch((error: unknown) => outcome.problems.push(`shutting down: ${error}`))
  closingTable(outcome.records)
  const state = railwayState(services.railway)
  if (args.report) {
    writeFileSync(
      args.report,
      `${JSON.stringify({ ok: outcome.problems.length === 0, seconds: Number(seconds()), phases: outcome.records, railway: state, problems: outcome.problems }, null, 2)}\n`,
    )
  }
  if (outcome.problems.length > 0) {
    if (serverLog.length > 0) print(`\nThe space/ server's last lines:\n${serverLog.map((l) => `  ${l}`).join('\n')}`)
    print(`\n✗ rehearsal FAILED after ${seconds()} s: ${outcome.problems.join('; ')}`)
    return 1
  }
  print(
    `\n✓ rehearsal passed in ${seconds()} s: Cognitia was switched to the ${target === 'endpoint' ? 'Inference Endpoint' : 'Space'} and rolled back, twice; it ends on ${state.ollamaBaseUrl}.`,
  )
  realRunNeeds()
  return 0
}

process.exitCode = await main()
