// Bundles every actions/<name>/src/index.ts into one self-contained actions/<name>/dist/index.mjs.
// The runner never runs `npm install`, so each bundle must carry all of its dependencies.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'

const actionsDir = new URL('../actions/', import.meta.url).pathname
const names = readdirSync(actionsDir).filter((name) => existsSync(join(actionsDir, name, 'src', 'index.ts')))

for (const name of names) {
  await build({
    entryPoints: [join(actionsDir, name, 'src', 'index.ts')],
    outfile: join(actionsDir, name, 'dist', 'index.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: false,
    legalComments: 'none',
    logLevel: 'warning',
    // @actions/http-client pulls in CommonJS `tunnel`, which calls require(); ESM bundles need this shim.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  })
}
console.log(`built ${names.length} action bundle(s): ${names.join(', ')}`)
