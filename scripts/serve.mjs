// `npm run serve`: the Space server on this machine (CPU), with tiny random-weight demo models registered
// under the catalog's names, at http://127.0.0.1:7860 (PORT to change). Ctrl-C stops it.
import { spawnSync } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { startSpaceServer } from './lib/space-server.mjs'

const root = resolve(dirname(new URL(import.meta.url).pathname), '..')
const setup = spawnSync(process.execPath, [join(root, 'scripts', 'setup.mjs')], { stdio: 'inherit' })
if (setup.status !== 0) process.exit(setup.status ?? 1)

const port = Number(process.env.PORT ?? 7860)
console.log(`Starting the Space server on port ${port} (first start builds the demo models; about a minute)…`)
const server = await startSpaceServer({ port, log: (line) => console.log(`  [space] ${line}`) }).catch((error) => {
  console.error(error.message)
  process.exit(1)
})
console.log(`
zerollama is running at ${server.url}  (tiny random-weight demo models: the text is gibberish by design)

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
