/**
 * What migrate.yml hands each action, read from the workflow file itself: a plan of "what migrate
 * would change" must use migrate's own inputs, not a second copy of them. A step input is a literal,
 * a dispatch input's default, an action.yml default, a secret, or an expression only a run can
 * evaluate (a repository variable, a job output); the plan says which.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { parseInputDefaults } from '../action-yml.js'
import { ConfigurationError } from '../errors.js'

export type StepValue =
  /** Known before the run: written in the workflow, a dispatch default, or the action's default. */
  | { kind: 'value'; value: string }
  /** `${{ secrets.NAME }}`: given at run time; its value is never part of a plan. */
  | { kind: 'secret'; name: string }
  /** Any other expression (`vars.*`, `needs.*`, a condition): only the run knows it. */
  | { kind: 'runtime'; expression: string }

export interface WorkflowStep {
  job: string
  /** The local action's folder name: `./actions/create-space` → `create-space`. */
  action: string
  inputs: Record<string, StepValue>
  /** The action.yml defaults, for an input the workflow fills from a run-time expression. */
  defaults: Record<string, string>
}

type RawStep = { uses?: string; with?: Record<string, unknown> }
type RawWorkflow = {
  on?: { workflow_dispatch?: { inputs?: Record<string, { default?: unknown }> } }
  jobs?: Record<string, { steps?: RawStep[] }>
}

export class MigrateWorkflow {
  private constructor(
    readonly file: string,
    private readonly steps: WorkflowStep[],
  ) {}

  /** Reads `file` (relative to `root`) and the action.yml of every local action it uses. */
  static read(root: string, file = '.github/workflows/migrate.yml'): MigrateWorkflow {
    const text = readText(join(root, file), `${file} (the workflow the plan describes)`)
    const workflow = parse(text) as RawWorkflow
    const dispatch = Object.fromEntries(
      Object.entries(workflow.on?.workflow_dispatch?.inputs ?? {}).map(([name, spec]) => [name, spec?.default]),
    )
    const steps: WorkflowStep[] = []
    for (const [job, spec] of Object.entries(workflow.jobs ?? {})) {
      for (const step of spec?.steps ?? []) {
        const action = /^\.\/actions\/([\w-]+)$/.exec(step.uses ?? '')?.[1]
        if (!action) continue
        const actionYml = join(root, 'actions', action, 'action.yml')
        const defaults = parseInputDefaults(readText(actionYml, `actions/${action}/action.yml`))
        const inputs: Record<string, StepValue> = {}
        for (const [name, value] of Object.entries(defaults)) inputs[name] = resolve(value, {})
        for (const [name, value] of Object.entries(step.with ?? {})) inputs[name] = resolve(String(value), dispatch)
        steps.push({ job, action, inputs, defaults })
      }
    }
    return new MigrateWorkflow(file, steps)
  }

  /** The first step that runs `action` and whose literal inputs match `where` (e.g. `{ target: 'space' }`). */
  step(action: string, where: Record<string, string> = {}): WorkflowStep {
    const found = this.steps.find(
      (step) =>
        step.action === action && Object.entries(where).every(([name, value]) => literal(step.inputs[name]) === value),
    )
    if (!found) {
      const condition = Object.entries(where).map(([k, v]) => ` with ${k}: ${v}`)
      throw new ConfigurationError(`${this.file} has no step uses: ./actions/${action}${condition.join('')}`)
    }
    return found
  }
}

/** The value when it is known before the run; undefined for a secret or a run-time expression. */
export function literal(value: StepValue | undefined): string | undefined {
  return value?.kind === 'value' ? value.value : undefined
}

/** Whether the input will hold something at run time (a secret or an expression counts; an empty literal does not). */
export function isGiven(value: StepValue | undefined): boolean {
  return value !== undefined && (value.kind !== 'value' || value.value !== '')
}

function resolve(raw: string, dispatch: Record<string, unknown>): StepValue {
  if (!raw.includes('${{')) return { kind: 'value', value: raw }
  const expression = /^\$\{\{\s*(.*?)\s*\}\}$/.exec(raw.trim())?.[1]
  const input = /^inputs\.([\w-]+)$/.exec(expression ?? '')?.[1]
  if (input && dispatch[input] !== undefined) return { kind: 'value', value: String(dispatch[input]) }
  const secret = /^secrets\.(\w+)$/.exec(expression ?? '')?.[1]
  if (secret) return { kind: 'secret', name: secret }
  return { kind: 'runtime', expression: expression ?? raw }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    throw new ConfigurationError(`cannot read ${what} at ${path}: run the plan from the repository root`)
  }
}
