// Starts the Space server (space/app.py) locally on CPU with the tiny demo models, for `npm run serve`,
// the rehearsal, the e2e tests and the page test. Uses the repository's .venv (created by scripts/setup.mjs).
//
// startSpaceServer({ port = 0, env = {}, log, readyTimeoutMs = 180000 }) -> Promise<{ url, port, process, stop() }>
//   port: 0 picks a free port. env: extra variables for the server, e.g. ZEROLLAMA_API_KEY (shared key
//   required on every API route), ZEROLLAMA_MODEL_DIR, ZEROLLAMA_MAX_CONCURRENCY (see space/README.md), or
//   ZEROLLAMA_DEMO: 'smollm2' for the real SmolLM2 model instead of the tiny ones (`npm run serve` does).
//   log(line): receives each line the server prints (default: dropped; kept for the error message).
//   Resolves once GET / answers "Ollama is running"; rejects with the server's last lines if it exits first.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'

const root = resolve(dirname(new URL(import.meta.url).pathname), '..', '..')
const python = join(root, '.venv', 'bin', 'python')

function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolvePort(port))
    })
  })
}

async function answers(url) {
  try {
    const response = await fetch(`${url}/`, { signal: AbortSignal.timeout(2000) })
    return response.ok && (await response.text()) === 'Ollama is running'
  } catch {
    return false
  }
}

export async function startSpaceServer({ port = 0, env = {}, log = () => {}, readyTimeoutMs = 180_000 } = {}) {
  if (!existsSync(python)) {
    throw new Error(`${python} is missing: run \`node scripts/setup.mjs\` (or \`npm test\`) once to create it`)
  }
  const chosen = port || (await freePort())
  const url = `http://127.0.0.1:${chosen}`
  const child = spawn(python, [join(root, 'space', 'app.py')], {
    cwd: join(root, 'space'),
    env: {
      ...process.env,
      ZEROLLAMA_DEMO: '1',
      PORT: String(chosen),
      GRADIO_SERVER_NAME: '127.0.0.1',
      GRADIO_ANALYTICS_ENABLED: 'False',
      PYTHONUNBUFFERED: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lastLines = []
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      lastLines.push(line)
      if (lastLines.length > 40) lastLines.shift()
      log(line)
    })
  }
  let exited = null
  const exit = new Promise((resolveExit) => {
    child.once('exit', (code, signal) => {
      exited = signal ?? code
      resolveExit()
    })
  })

  async function stop() {
    if (exited !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exit
    clearTimeout(timer)
  }

  const deadline = Date.now() + readyTimeoutMs
  while (!(await answers(url))) {
    if (exited !== null || Date.now() > deadline) {
      await stop()
      const why = exited !== null ? `exited (${exited})` : `did not answer within ${readyTimeoutMs / 1000} s`
      throw new Error(`the Space server ${why}. Its last lines:\n${lastLines.join('\n')}`)
    }
    await new Promise((wait) => setTimeout(wait, 300))
  }
  return { url, port: chosen, process: child, stop }
}
