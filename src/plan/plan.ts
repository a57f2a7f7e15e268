/**
 * What `migrate` would change if it were dispatched after this pull request is merged, phase by
 * phase, each from its action's own dry-run code (create-space's planDeploy, switch-railway's
 * switchToSpace with dryRun) fed with the inputs migrate.yml gives that action. A phase whose outside
 * system has no token here (a PR from a fork gets no secrets) shows what the repository alone tells.
 *
 * A planner per phase, all of one shape: another target (a second backend, another action) adds its
 * own planner to the list; the renderer and the comment do not change.
 */
import { join } from 'node:path'
import { modelsOrDefaults } from '../catalog.js'
import { errorMessage } from '../errors.js'
import { parseVariables, planDeploy, type SpacePlan, spaceSecretNames } from '../hf/deploy.js'
import { readSpaceFolder } from '../hf/space-files.js'
import { SpaceManager } from '../hf/space-manager.js'
import { spaceUrls } from '../hf/space-urls.js'
import type { Logger } from '../logger.js'
import { RailwayClient, type RailwayTokenKind } from '../railway/client.js'
import { DEFAULT_HF_TOKEN_VARIABLE, DEFAULT_VARIABLE, displayUrl, previousVariableName } from '../railway/plans.js'
import { switchToSpace } from '../railway/switch.js'
import { expectation } from '../validate/checks.js'
import { diffAgainstBase } from './git-base.js'
import { isGiven, literal, type MigrateWorkflow, type StepValue, type WorkflowStep } from './workflow.js'

export interface PlanRequest {
  /** The repository root: space/ and the action.yml files are read from here. */
  root: string
  workflow: MigrateWorkflow
  /** owner/name; undefined when the repository names no Space (the ZEROLLAMA_SPACE variable). */
  spaceId?: string
  /** A read token for the Space; undefined on a fork PR or when none is configured. */
  hfToken?: string
  hubUrl?: string
  railway: {
    token?: string
    tokenKind: RailwayTokenKind
    /** Empty fields: what migrate.yml's switch step gets, else switch-railway's defaults. */
    project?: string
    environment?: string
    service?: string
    ollamaService?: string
    endpoint?: string
  }
  /** The PR comes from a fork: GitHub gives its workflows no secrets. */
  fork: boolean
  /**
   * The git revision of the PR's base in the checkout (`HEAD^1` of a pull_request merge checkout):
   * without a read token, the Space files are compared with it instead of with the live Space.
   */
  baseRef?: string
  /** Receives every value read back that may be a secret (Railway variables), before anything prints it. */
  onSecret?: (value: string) => void
}

/**
 * live: read from the outside system with a read token; offline: that system could not be asked
 * (no token), so only what the repository tells; static: nothing outside to ask; failed: asking failed.
 */
export type PhaseMode = 'live' | 'offline' | 'static' | 'failed'

export type PlanSection =
  | { kind: 'facts'; rows: Array<[string, string]> }
  /** Each item shown as code; an object adds a plain note after it (`app.py` — changed). */
  | { kind: 'list'; title: string; items: Array<string | { code: string; note: string }>; empty: string }
  | { kind: 'table'; title: string; header: string[]; rows: string[][] }

export interface PhasePlan {
  /** The migrate.yml job. */
  phase: string
  /** The action whose dry run this is. */
  action: string
  mode: PhaseMode
  /** Where the figures come from, or why they are missing. */
  note: string
  sections: PlanSection[]
}

export interface Plan {
  spaceId?: string
  fork: boolean
  phases: PhasePlan[]
}

export interface PhasePlanner {
  phase: string
  action: string
  plan(request: PlanRequest, logger: Logger): Promise<PhasePlan>
}

/** The inputs of create-space that become Space secrets (create-space's main.ts reads them the same way). */
const SECRET_INPUTS: Record<string, string> = {
  'api-key': spaceSecretNames.apiKey,
  'hf-read-token': spaceSecretNames.hfReadToken,
}

/** The HF token is written to Cognitia next to the URL; its value is never compared or shown by a plan. */
const NOT_COMPARED = 'value from the run; a plan never sees it'

function value(step: WorkflowStep, name: string): string | undefined {
  return literal(step.inputs[name])
}

/** The input as the run will have it when it is known; else the action's own default (an unset `vars.*`). */
function valueOrDefault(step: WorkflowStep, name: string): string | undefined {
  return value(step, name) || step.defaults[name] || undefined
}

function described(input: StepValue | undefined): string {
  if (!input) return '(not given)'
  if (input.kind === 'value') return input.value
  return input.kind === 'secret' ? `secret ${input.name}` : `set by the run (${input.expression})`
}

/** What migrate.yml asks create-space for, as a deploy request; secret values stay empty: a plan needs only names. */
function spaceRequest(request: PlanRequest, spaceId: string) {
  const step = request.workflow.step('create-space')
  const variablesInput = step.inputs.variables
  const variables = parseVariables(literal(variablesInput) ?? '')
  return {
    spaceId,
    private: value(step, 'private') !== 'false',
    runtime: (value(step, 'runtime') ?? 'zerogpu') as 'zerogpu' | 'docker',
    hardware: value(step, 'hardware') ?? 'zero-a10g',
    folder: join(request.root, value(step, 'space-dir') ?? 'space'),
    secrets: Object.fromEntries(
      Object.entries(SECRET_INPUTS)
        .filter(([input]) => isGiven(step.inputs[input]))
        .map(([, name]) => [name, '']),
    ),
    variables,
    runtimeVariables: variablesInput?.kind === 'value' ? undefined : described(variablesInput),
  }
}

const noSpace = 'no Space named: set the repository variable ZEROLLAMA_SPACE (owner/name) to plan against it'

export const spacePlanner: PhasePlanner = {
  phase: 'create-space',
  action: 'create-space',
  async plan(request, logger) {
    const base = { phase: 'create-space', action: 'create-space' }
    const wanted = spaceRequest(request, request.spaceId ?? '')
    const names = nameSections(wanted)
    if (!request.spaceId || !request.hfToken) {
      const sdk = wanted.runtime === 'docker' ? 'docker' : 'gradio'
      const files = await readSpaceFolder(wanted.folder, sdk)
      // Docker's README.md is generated, so only a Gradio folder compares with its git copy.
      const diff =
        request.baseRef && sdk === 'gradio'
          ? await diffAgainstBase(request.root, wanted.folder, files, request.baseRef)
          : undefined
      const facts: Array<[string, string]> = [
        ...(request.spaceId ? [['Space', spaceUrls(request.spaceId).spaceUrl] as [string, string]] : []),
        ['Visibility', wanted.private ? 'private' : 'public'],
        ['Hardware', `${wanted.hardware} (the live value was not read)`],
        ['Files', `${files.length} files make up the Space; migrate commits only those that differ from it`],
      ]
      const changes = diff
        ? fileList(
            `Space files this PR changes, compared with its base branch (${diff.base.slice(0, 12)}) by hash`,
            diff,
            files.length,
            'none: this PR changes no file of the Space',
          )
        : {
            kind: 'list' as const,
            title: 'Space files this PR changes',
            items: [],
            empty: 'not known: the base commit is not in the checkout (actions/checkout with fetch-depth: 2)',
          }
      const why = request.spaceId
        ? `not compared with the live Space: ${whyNoToken(request, 'HF_TOKEN_READ')}`
        : noSpace
      return { ...base, mode: 'offline', note: why, sections: [{ kind: 'facts', rows: facts }, changes, ...names] }
    }
    const manager = new SpaceManager({ token: request.hfToken, hubUrl: request.hubUrl, logger })
    const { plan } = await planDeploy(manager, wanted, logger, 'read')
    const link: [string, string] = ['Space', spaceUrls(request.spaceId).spaceUrl]
    const files = plan.exists
      ? fileList(
          'Files that differ from the live Space by hash',
          plan.upload,
          plan.upload.total,
          `none: the Space already holds all ${plan.upload.total} files (no commit, no rebuild)`,
        )
      : fileList('Files to upload', plan.upload, plan.upload.total, '')
    return {
      ...base,
      mode: 'live',
      note: 'compared with the live Space (read token HF_TOKEN_READ)',
      sections: [{ kind: 'facts', rows: [link, ...spaceFacts(plan)] }, files, ...names],
    }
  },
}

function spaceFacts(plan: SpacePlan): Array<[string, string]> {
  if (!plan.exists) {
    return [
      ['Space', 'absent: migrate creates it'],
      ['Visibility', plan.visibility.to],
      ['Hardware', `→ ${plan.hardware.to}`],
    ]
  }
  const { from, to } = plan.visibility
  const hardware = plan.hardware
  return [
    ['Visibility', from === to ? `${to} (unchanged)` : `${from} → ${to}`],
    [
      'Hardware',
      hardware.from === hardware.to ? `${hardware.to} (unchanged)` : `${hardware.from ?? 'none'} → ${hardware.to}`,
    ],
  ]
}

/** Changed, new and deleted paths as one list, titled with how many of the Space's files differ. */
function fileList(
  title: string,
  diff: { changed: string[]; added: string[]; deleted: string[] },
  total: number,
  empty: string,
): PlanSection {
  const added = new Set(diff.added)
  const items = [
    ...diff.changed.map((path) => ({ code: path, note: added.has(path) ? 'new' : 'changed' })),
    ...diff.deleted.map((path) => ({ code: path, note: 'deleted' })),
  ]
  return { kind: 'list', title: `${title} (${items.length} of ${total})`, items, empty }
}

function nameSections(wanted: ReturnType<typeof spaceRequest>): PlanSection[] {
  const variables = Object.keys(wanted.variables)
  return [
    {
      kind: 'list',
      title: 'Space secrets to set (names only)',
      items: Object.keys(wanted.secrets),
      empty: 'none (migrate.yml passes create-space no api-key or hf-read-token)',
    },
    {
      kind: 'list',
      title: 'Space variables to set (names only)',
      items: wanted.runtimeVariables ? [`the \`variables\` input, ${wanted.runtimeVariables}`] : variables,
      empty: 'none',
    },
  ]
}

export const switchPlanner: PhasePlanner = {
  phase: 'switch',
  action: 'switch-railway',
  async plan(request, logger) {
    const step = request.workflow.step('switch-railway', { mode: 'switch' })
    const createStep = request.workflow.step('create-space')
    const base = { phase: 'switch', action: 'switch-railway' }
    const variable = valueOrDefault(step, 'variable') ?? DEFAULT_VARIABLE
    const hfTokenVariable = valueOrDefault(step, 'hf-token-variable') ?? DEFAULT_HF_TOKEN_VARIABLE
    const given = request.railway
    const names = {
      project: given.project || valueOrDefault(step, 'railway-project'),
      environment: given.environment || valueOrDefault(step, 'railway-environment') || '',
      service: given.service || valueOrDefault(step, 'railway-service') || '',
      ollamaService: given.ollamaService || valueOrDefault(step, 'ollama-service') || '',
    }
    const where = `${names.service} (${names.project ? `${names.project} / ` : ''}${names.environment})`
    const writesToken = value(createStep, 'private') !== 'false' && isGiven(step.inputs['hf-token'])
    if (!request.spaceId) return { ...base, mode: 'offline', note: noSpace, sections: [] }
    const spaceUrl = spaceUrls(request.spaceId).apiBaseUrl
    if (!request.railway.token) {
      const lines = [
        `${previousVariableName(variable)}: records the value it replaces (what a rollback restores)`,
        ...(writesToken ? [`${hfTokenVariable}: set (${NOT_COMPARED})`] : []),
        `${names.service}: one deployment with the new variables`,
      ]
      return {
        ...base,
        mode: 'offline',
        note: `current value not read: ${whyNoToken(request, 'RAILWAY_TOKEN_READ')}`,
        sections: [
          variableTable(where, variable, '(not read)', spaceUrl),
          { kind: 'list', title: 'Also', items: lines, empty: '' },
        ],
      }
    }
    const client = new RailwayClient({
      token: request.railway.token,
      tokenKind: request.railway.tokenKind,
      endpoint: request.railway.endpoint,
      logger,
    })
    const result = await switchToSpace(
      client,
      {
        ...names,
        variable,
        hfTokenVariable,
        spaceUrl,
        // Only whether a token is written matters to the plan; the placeholder never leaves this process.
        hfToken: writesToken ? 'zerollama-plan-placeholder' : undefined,
        dryRun: true,
        deploymentTimeoutMs: 0,
        onSecret: request.onSecret,
      },
      logger,
    )
    const lines = result.plan.map((line) => line.replace('set (value masked)', `set (${NOT_COMPARED})`))
    return {
      ...base,
      mode: 'live',
      note: "Cognitia's variables read from Railway (RAILWAY_TOKEN_READ)",
      sections: [
        // A dry run leaves `after` as it was; a switch writes the Space URL (planSwitch's `after`).
        variableTable(where, variable, displayUrl(result.before.url), displayUrl(spaceUrl)),
        { kind: 'list', title: 'switch-railway dry run', items: lines, empty: 'nothing to change' },
      ],
    }
  },
}

function variableTable(where: string, variable: string, now: string, after: string): PlanSection {
  return {
    kind: 'table',
    title: `Railway: ${where}`,
    header: ['Variable', 'Now', 'After the switch'],
    rows: [[variable, now, now === after ? `${after} (unchanged)` : after]],
  }
}

export const validatePlanner: PhasePlanner = {
  phase: 'validate',
  action: 'validate',
  async plan(request) {
    const step = request.workflow.step('validate', { target: 'space' })
    const threshold = (name: string, show: (v: string) => string) => {
      const input = step.inputs[name]
      return input?.kind === 'value' ? show(input.value) : described(input)
    }
    const models = step.inputs.models
    const modelNames =
      models?.kind === 'value'
        ? modelsOrDefaults(models.value)
            .map((m) => m.name)
            .join(', ')
        : described(models)
    return {
      phase: 'validate',
      action: 'validate',
      mode: 'static',
      note: `the thresholds the Space must meet before the production gate (${request.workflow.file} and the action's defaults)`,
      sections: [
        {
          kind: 'table',
          title: 'Validate thresholds',
          header: ['Check', 'Threshold'],
          rows: [
            ['Models present', modelNames],
            ['Time to first token (warm), per model', threshold('ttft-ms-max', (v) => expectation.ttft(Number(v)))],
            [
              'Generation speed, per model',
              threshold('tokens-per-second-min', (v) => expectation.tokensPerSecond(Number(v))),
            ],
            ['Device', threshold('require-gpu', (v) => expectation.gpu(v === 'true'))],
            ['Hardware billing', threshold('allow-paid-hardware', (v) => expectation.hardware(v === 'true'))],
            [
              'Monthly cost estimate',
              threshold('monthly-tokens', (v) => `at ${Number(v).toLocaleString('en-US')} tokens a month`),
            ],
          ],
        },
      ],
    }
  },
}

function whyNoToken(request: PlanRequest, secret: string): string {
  return request.fork
    ? 'this PR comes from a fork, and GitHub gives workflows of fork PRs no secrets'
    : `no ${secret} secret in the pr-plan environment`
}

/** The phases of migrate.yml that change something, in its order, plus the gate's thresholds. */
export const migratePlanners: PhasePlanner[] = [spacePlanner, validatePlanner, switchPlanner]

/** Runs every planner; one that fails becomes a failed phase, so the others are still shown. */
export async function planMigration(
  request: PlanRequest,
  logger: Logger,
  planners: PhasePlanner[] = migratePlanners,
): Promise<Plan> {
  const phases: PhasePlan[] = []
  for (const planner of planners) {
    try {
      phases.push(await logger.group(`Plan ${planner.phase}`, () => planner.plan(request, logger)))
    } catch (error) {
      logger.warning(`${planner.phase}: ${errorMessage(error)}`)
      phases.push({
        phase: planner.phase,
        action: planner.action,
        mode: 'failed',
        note: errorMessage(error),
        sections: [],
      })
    }
  }
  return { spaceId: request.spaceId, fork: request.fork, phases }
}
