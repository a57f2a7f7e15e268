/**
 * Reads the workflows as GitHub does (YAML → data) and checks the rules a reviewer would otherwise
 * check by eye: timeouts everywhere, least-privilege permissions, third-party actions pinned to full
 * SHAs, gates in front of the Railway changes, no cancelled deployments, and every `uses: ./actions/<x>`
 * passing only inputs that action declares (and all it requires). Each rule is also shown to catch
 * a broken copy, so an always-empty checker cannot pass.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = new URL('../../', import.meta.url).pathname
const workflowsDir = join(root, '.github', 'workflows')
const python = join(root, '.venv', 'bin', 'python')

type Step = { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, unknown> }
type Job = {
  'timeout-minutes'?: number
  if?: string
  permissions?: Record<string, string> | string
  environment?: string | { name: string }
  needs?: string | string[]
  concurrency?: { 'cancel-in-progress'?: unknown }
  outputs?: Record<string, string>
  steps?: Step[]
}
type Workflow = {
  on: Record<string, unknown>
  permissions?: Record<string, string> | string
  concurrency?: { group?: string; 'cancel-in-progress'?: unknown }
  jobs: Record<string, Job>
}
type ActionInputs = Record<string, { required?: boolean; default?: unknown }>

const parsed = new Map<string, unknown>()

/** YAML → JSON through PyYAML in the project's venv (no YAML parser among the npm dependencies). */
function parseYaml(file: string): unknown {
  if (parsed.has(file)) return structuredClone(parsed.get(file))
  const script = 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))'
  const result = spawnSync(python, ['-c', script, file], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`cannot parse ${file}: ${result.stderr || result.error?.message}`)
  parsed.set(file, JSON.parse(result.stdout))
  return structuredClone(parsed.get(file))
}

function loadWorkflow(file: string): Workflow {
  // YAML 1.1 reads the key `on` as the boolean true; GitHub reads it as `on`.
  const data = parseYaml(file) as Record<string, unknown>
  const { true: on, ...rest } = data
  return { on: (data.on ?? on) as Record<string, unknown>, ...rest } as Workflow
}

function actionInputs(name: string): ActionInputs | undefined {
  const file = join(root, 'actions', name, 'action.yml')
  if (!existsSync(file)) return undefined
  return ((parseYaml(file) as { inputs?: ActionInputs }).inputs ?? {}) as ActionInputs
}

/** Write access each workflow may grant, and why: recording GitHub Deployments, opening the health issue. */
const allowedWrites = new Set(['deployments', 'issues'])
/** Write access only one job may have: the PR plan comments on the pull request. */
const jobOnlyWrites: Record<string, string> = { 'pull-requests': 'ci.yml job pr-plan' }
const pinned = /^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/

function permissionProblems(where: string, permissions: Job['permissions']): string[] {
  if (permissions === undefined) return []
  if (typeof permissions === 'string') return [`${where}: permissions '${permissions}' is not least-privilege`]
  return Object.entries(permissions)
    .filter(([scope, level]) => level === 'write' && !allowedWrites.has(scope) && jobOnlyWrites[scope] !== where)
    .map(([scope]) => `${where}: grants ${scope}: write`)
}

function workflowProblems(name: string, workflow: Workflow, rawText: string): string[] {
  const problems: string[] = []
  if (workflow.permissions === undefined) problems.push(`${name}: no top-level permissions`)
  else if (typeof workflow.permissions === 'object' && Object.values(workflow.permissions).includes('write')) {
    problems.push(`${name}: top-level permissions grant write; grant it to the job that needs it`)
  }
  problems.push(...permissionProblems(name, workflow.permissions))
  if (!workflow.concurrency) problems.push(`${name}: no concurrency group`)
  else if (workflow.concurrency['cancel-in-progress'] !== false) {
    problems.push(`${name}: concurrency must set cancel-in-progress: false`)
  }
  for (const [jobName, job] of Object.entries(workflow.jobs)) {
    const where = `${name} job ${jobName}`
    if (typeof job['timeout-minutes'] !== 'number') problems.push(`${where}: no timeout-minutes`)
    problems.push(...permissionProblems(where, job.permissions))
    if (job.concurrency && job.concurrency['cancel-in-progress'] !== false) {
      problems.push(`${where}: job concurrency may cancel in progress`)
    }
    for (const [output, value] of Object.entries(job.outputs ?? {})) {
      if (/secrets\./.test(value)) problems.push(`${where}: output ${output} carries a secret`)
    }
    let checkedOut = false
    for (const step of job.steps ?? []) {
      if (step.run && /\$\{\{\s*(inputs|github\.event)\./.test(step.run)) {
        problems.push(`${where}: expression inside run: (pass it through env:)`)
      }
      if (!step.uses) continue
      if (step.uses.startsWith('actions/checkout@')) checkedOut = true
      const local = /^\.\/actions\/([\w-]+)$/.exec(step.uses)
      if (!local) {
        if (!pinned.test(step.uses)) problems.push(`${where}: ${step.uses} is not pinned to a full commit SHA`)
        else if (!new RegExp(`${step.uses.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s+# v\\d`).test(rawText)) {
          problems.push(`${where}: ${step.uses} has no '# vX.Y.Z' comment`)
        }
        continue
      }
      if (!checkedOut) problems.push(`${where}: ${step.uses} before actions/checkout`)
      const inputs = actionInputs(local[1] ?? '')
      if (!inputs) {
        problems.push(`${where}: ${step.uses} has no action.yml`)
        continue
      }
      const given = Object.keys(step.with ?? {})
      for (const key of given) {
        if (!(key in inputs)) problems.push(`${where}: ${step.uses} has no input '${key}'`)
      }
      for (const [key, spec] of Object.entries(inputs)) {
        if (spec.required && spec.default === undefined && !given.includes(key)) {
          problems.push(`${where}: ${step.uses} requires input '${key}'`)
        }
      }
    }
  }
  return problems
}

function needsOf(job: Job): string[] {
  return job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs]
}

function environmentOf(job: Job | undefined): string | undefined {
  return typeof job?.environment === 'string' ? job.environment : job?.environment?.name
}

/** True when `job` runs only after `earlier`, directly or through other jobs. */
function dependsOn(workflow: Workflow, job: string, earlier: string): boolean {
  return needsOf(workflow.jobs[job] ?? {}).some((n) => n === earlier || dependsOn(workflow, n, earlier))
}

const workflowFiles = readdirSync(workflowsDir).filter((f) => f.endsWith('.yml'))
const read = (file: string) => ({
  workflow: loadWorkflow(join(workflowsDir, file)),
  raw: readFileSync(join(workflowsDir, file), 'utf8'),
})

describe('workflows', () => {
  it('are all present', () => {
    expect(workflowFiles.sort()).toEqual(
      expect.arrayContaining(['ci.yml', 'health.yml', 'migrate.yml', 'rollback.yml']),
    )
  })

  for (const file of workflowFiles) {
    it(`${file} follows the rules (timeouts, permissions, pins, concurrency, action inputs)`, () => {
      const { workflow, raw } = read(file)
      expect(workflowProblems(file, workflow, raw)).toEqual([])
    })
  }

  it('migrate.yml is dispatched with space, target, models, private and dry-run', () => {
    const { workflow } = read('migrate.yml')
    const dispatch = workflow.on.workflow_dispatch as { inputs: Record<string, { type?: string; required?: boolean }> }
    expect(Object.keys(dispatch.inputs)).toEqual(['space', 'target', 'models', 'private', 'dry-run'])
    expect(dispatch.inputs.space?.required).toBe(true)
    expect(dispatch.inputs['dry-run']?.type).toBe('boolean')
    expect(workflow.concurrency?.group).toContain('inputs.space')
  })

  it('migrate.yml runs the phases in order, with the two gates before the Railway changes', () => {
    const { workflow } = read('migrate.yml')
    const order = ['create-space', 'pull-models', 'validate', 'switch', 'decommission']
    for (let i = 1; i < order.length; i++) {
      expect(dependsOn(workflow, order[i] ?? '', order[i - 1] ?? ''), `${order[i]} after ${order[i - 1]}`).toBe(true)
    }
    expect(environmentOf(workflow.jobs.switch)).toBe('production')
    // Cognitia's own check follows the switch inside the gated job, so the Railway token stays there.
    const switchSteps = (workflow.jobs.switch?.steps ?? []).map((s) => `${s.uses}:${s.with?.mode ?? s.with?.target}`)
    expect(switchSteps.slice(-2)).toEqual(['./actions/switch-railway:switch', './actions/validate:cognitia'])
    expect(environmentOf(workflow.jobs.decommission)).toBe('decommission')
    const modes = Object.fromEntries(
      Object.entries(workflow.jobs).flatMap(([name, job]) =>
        (job.steps ?? []).filter((s) => s.uses === './actions/switch-railway').map((s) => [name, s.with?.mode]),
      ),
    )
    expect(modes).toEqual({ switch: 'switch', rollback: 'rollback', decommission: 'decommission' })
    // Only gated jobs (or the automatic rollback to the recorded value) may touch Railway.
    for (const name of Object.keys(modes)) expect(environmentOf(workflow.jobs[name])).toBeDefined()
  })

  it('rollback.yml and health.yml roll back through switch-railway', () => {
    for (const file of ['rollback.yml', 'health.yml']) {
      const { workflow } = read(file)
      const steps = Object.values(workflow.jobs).flatMap((j) => j.steps ?? [])
      expect(
        steps.some((s) => s.uses === './actions/switch-railway' && s.with?.mode === 'rollback'),
        file,
      ).toBe(true)
    }
    const health = read('health.yml').workflow
    expect(Object.keys(health.on)).toContain('schedule')
    expect(String((health.jobs.rollback as { if?: string }).if)).toContain('vars.ZEROLLAMA_AUTO_ROLLBACK')
  })

  it('ci.yml checks the bundles and runs the committed actions', () => {
    const { workflow, raw } = read('ci.yml')
    expect(raw).toContain('git diff --exit-code -- actions/*/dist')
    const uses = Object.values(workflow.jobs).flatMap((j) => (j.steps ?? []).map((s) => s.uses ?? ''))
    for (const action of ['create-space', 'pull-models', 'validate', 'switch-railway']) {
      expect(uses, action).toContain(`./actions/${action}`)
    }
  })

  it('ci.yml plans every pull request from its own job, the only one that may write to pull requests', () => {
    const { workflow } = read('ci.yml')
    expect(Object.keys(workflow.on)).toContain('pull_request')
    // pull_request_target would run with the base repository's secrets and a write token on a fork's code.
    for (const file of workflowFiles)
      expect(Object.keys(read(file).workflow.on), file).not.toContain('pull_request_target')
    expect(workflow.permissions).toEqual({ contents: 'read' })
    const job = workflow.jobs['pr-plan']
    expect(job?.permissions).toEqual({ contents: 'read', 'pull-requests': 'write' })
    expect(job?.if).toContain("github.event_name == 'pull_request'")
    const step = job?.steps?.find((s) => s.uses === './actions/pr-plan')
    expect(step?.with).toMatchObject({
      space: expect.stringContaining('vars.ZEROLLAMA_SPACE'),
      'hf-token': expect.stringContaining('secrets.HF_TOKEN_READ'),
      'railway-token': expect.stringContaining('secrets.RAILWAY_TOKEN_READ'),
    })
    // The write tokens never reach a PR's code.
    expect(JSON.stringify(job)).not.toMatch(/secrets\.(HF_TOKEN|RAILWAY_TOKEN)\b(?!_READ)/)
    const others = workflowFiles.flatMap((file) =>
      Object.entries(read(file).workflow.jobs)
        .filter(([name]) => !(file === 'ci.yml' && name === 'pr-plan'))
        .filter(([, j]) => typeof j.permissions === 'object' && 'pull-requests' in j.permissions)
        .map(([name]) => `${file} job ${name}`),
    )
    expect(others).toEqual([])
  })

  it('the checker catches each broken rule', () => {
    const { workflow, raw } = read('migrate.yml')
    const broken = structuredClone(workflow)
    const job = broken.jobs['create-space'] as Job
    delete job['timeout-minutes']
    job.permissions = { contents: 'write' }
    const steps = job.steps ?? []
    steps[0] = { uses: 'actions/checkout@v5' }
    steps.unshift({ uses: './actions/create-space', with: { 'no-such-input': 'x' } })
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, the very thing under test
    steps.push({ run: 'echo ${{ inputs.space }}' })
    ;(broken.jobs.validate as Job).permissions = { contents: 'read', 'pull-requests': 'write' }
    broken.concurrency = { group: 'x', 'cancel-in-progress': true }
    broken.permissions = 'write-all'
    const problems = workflowProblems('broken.yml', broken, raw).join('\n')
    for (const expected of [
      'no timeout-minutes',
      'grants contents: write',
      'job validate: grants pull-requests: write',
      'is not pinned to a full commit SHA',
      "has no input 'no-such-input'",
      'expression inside run:',
      'cancel-in-progress: false',
      "permissions 'write-all'",
      'before actions/checkout',
    ]) {
      expect(problems).toContain(expected)
    }
  })
})

/** The secrets a job reads: every `secrets.NAME` in its steps' inputs and env. */
function secretsOf(job: Job): string[] {
  const text = JSON.stringify((job.steps ?? []).map((s) => [s.with, s.env]))
  return [...new Set([...text.matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1] ?? ''))]
}

/** environment → the secrets the runbook's §1 table says it holds. */
function runbookEnvironments(): Map<string, string[]> {
  const text = readFileSync(join(root, 'docs', 'runbook.md'), 'utf8')
  const rows = [...text.matchAll(/^\| `([a-z-]+)` \|([^\n]*)$/gm)]
  return new Map(rows.map((m) => [m[1] ?? '', [...(m[2] ?? '').matchAll(/`([A-Z0-9_]+)`/g)].map((s) => s[1] ?? '')]))
}

describe('secrets live in environments', () => {
  const jobs = workflowFiles.flatMap((file) =>
    Object.entries(read(file).workflow.jobs).map(([name, job]) => ({ where: `${file} job ${name}`, job })),
  )

  it('every job that reads a token runs in an environment, and the runbook puts that token there', () => {
    const documented = runbookEnvironments()
    const problems = jobs.flatMap(({ where, job }) => {
      const secrets = secretsOf(job)
      if (secrets.length === 0) return []
      const environment = environmentOf(job)
      if (!environment) return [`${where} reads ${secrets.join(', ')} outside any environment`]
      const held = documented.get(environment) ?? []
      return secrets.filter((s) => !held.includes(s)).map((s) => `${where}: runbook puts no ${s} in ${environment}`)
    })
    expect(problems).toEqual([])
    expect(jobs.filter(({ job }) => secretsOf(job).length > 0).length).toBeGreaterThan(5)
  })

  it('the rule catches a job that reads a secret without an environment', () => {
    const expression = ['$', '{{ secrets.HF_TOKEN }}'].join('')
    const job: Job = { steps: [{ uses: './actions/validate', with: { 'hf-token': expression } }] }
    expect(secretsOf(job)).toEqual(['HF_TOKEN'])
    expect(environmentOf(job)).toBeUndefined()
  })
})

describe('waits fit their jobs', () => {
  const budgets: Record<string, string> = {
    'create-space': 'wait-timeout-minutes',
    'create-endpoint': 'wait-timeout-minutes',
    'pull-models': 'timeout-minutes',
    validate: 'timeout-minutes',
    'switch-railway': 'deployment-timeout-minutes',
  }

  it("each action's own time budget (given or its default) is below its job's timeout-minutes", () => {
    const problems: string[] = []
    for (const file of workflowFiles) {
      for (const [name, job] of Object.entries(read(file).workflow.jobs)) {
        for (const step of job.steps ?? []) {
          const action = /^\.\/actions\/([\w-]+)$/.exec(step.uses ?? '')?.[1]
          const input = budgets[action ?? '']
          if (!action || !input) continue
          const budget = Number(step.with?.[input] ?? actionInputs(action)?.[input]?.default)
          if (!(budget < (job['timeout-minutes'] ?? 0))) {
            problems.push(
              `${file} job ${name}: ${action} ${input}=${budget} ≥ timeout-minutes ${job['timeout-minutes']}`,
            )
          }
        }
      }
    }
    expect(problems).toEqual([])
  })
})
