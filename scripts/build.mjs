// Bundles every actions/<name>/src/index.ts into one self-contained actions/<name>/dist/index.mjs.
// The runner never runs `npm install`, so each bundle must carry all of its dependencies.
// `--check` builds in memory and fails when a committed bundle differs from its source (CI's dist check).
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'

const rootDir = new URL('../', import.meta.url).pathname
const actionsDir = join(rootDir, 'actions')
const names = readdirSync(actionsDir).filter((name) => existsSync(join(actionsDir, name, 'src', 'index.ts')))
const bundles = names.map((name) => ({
  entry: join(actionsDir, name, 'src', 'index.ts'),
  outfile: join(actionsDir, name, 'dist', 'index.mjs'),
}))
const check = process.argv.includes('--check')
const stale = []

for (const { entry, outfile } of bundles) {
  const result = await build({
    entryPoints: [entry],
    outfile,
    write: !check,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: false,
    legalComments: 'none',
    logLevel: 'warning',
    // A node_modules that is a symlink (a worktree sharing one install) must not change the paths in the bundle.
    preserveSymlinks: true,
    // @actions/http-client pulls in CommonJS `tunnel`, which calls require(); ESM bundles need this shim.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  })
  if (check) {
    const committed = existsSync(outfile) ? readFileSync(outfile, 'utf8') : undefined
    if (committed !== result.outputFiles[0].text) stale.push(outfile.slice(rootDir.length))
  }
}
if (check && stale.length > 0) {
  console.error(`stale bundle(s): ${stale.join(', ')} — run \`npm run build\` and commit them with their source`)
  process.exit(1)
}
console.log(
  `${check ? 'checked' : 'built'} ${bundles.length} bundle(s): ${bundles.map((b) => b.outfile.slice(rootDir.length)).join(', ')}`,
)
