import * as core from '@actions/core'
import { type CatalogModel, modelsOrDefaults } from '../../../src/catalog.js'
import { ConfigurationError } from '../../../src/errors.js'
import { type PulledModel, type PullFailure, pullModels } from '../../../src/ollama/pull-models.js'
import { actionInputs, secretInput } from '../../common/inputs.js'
import { coreLogger, failRun, spaceClient, waitForSpaceApi } from '../../common/toolkit.js'

export const INPUT = {
  models: 'models',
  baseUrl: 'base-url',
  hfToken: 'hf-token',
  apiKey: 'api-key',
  timeoutMinutes: 'timeout-minutes',
} as const

/** Every default comes from this action's action.yml. */
const input = actionInputs(new URL('../action.yml', import.meta.url))

export interface Inputs {
  models: CatalogModel[]
  baseUrl: string
  hfToken?: string
  apiKey?: string
  timeoutMinutes: number
}

/** Reads every input once; secrets are masked before anything else can print them. */
export function readInputs(): Inputs {
  const hfToken = secretInput(INPUT.hfToken)
  const apiKey = secretInput(INPUT.apiKey)
  const baseUrl = input.required(INPUT.baseUrl).replace(/\/+$/, '')
  if (!/^https?:\/\/\S+$/.test(baseUrl))
    throw new ConfigurationError(
      `${INPUT.baseUrl} must be the Space API URL (https://<owner>-<name>.hf.space), got "${baseUrl}"`,
    )
  const timeoutMinutes = input.number(INPUT.timeoutMinutes, { min: 0.01, max: 360 })
  const models = modelsOrDefaults(input.optional(INPUT.models))
  if (models.length === 0) throw new ConfigurationError(`${INPUT.models} names no model`)
  return { models, baseUrl, hfToken, apiKey, timeoutMinutes }
}

async function writeSummary(inputs: Inputs, pulled: PulledModel[], failed: PullFailure[]): Promise<void> {
  await core.summary
    .addHeading('Models pulled into the Space', 2)
    .addTable([
      [
        { data: 'Model', header: true },
        { data: 'Hugging Face repo', header: true },
        { data: 'Result', header: true },
        { data: 'Pull', header: true },
        { data: 'Warm-up', header: true },
      ],
      ...pulled.map((p) => [
        p.model,
        p.repo,
        '✅ ready',
        `${p.pullSeconds.toFixed(1)} s`,
        `${p.warmupSeconds.toFixed(1)} s`,
      ]),
      ...failed.map((f) => [f.model, f.repo, `❌ ${f.error.message}`, '-', '-']),
    ])
    .addRaw(`Space API: ${inputs.baseUrl}. Next: run the validate action against it.`, true)
    .write()
}

export async function run(): Promise<void> {
  try {
    const inputs = readInputs()
    const client = spaceClient(inputs)
    await waitForSpaceApi(client, inputs)
    const { pulled, failed } = await pullModels(client, inputs.models, coreLogger)
    core.setOutput('models', pulled.map((p) => p.model).join(','))
    await writeSummary(inputs, pulled, failed)
    if (pulled.length > 0) core.notice(`${pulled.length} model(s) ready: ${pulled.map((p) => p.model).join(', ')}`)
    if (failed.length > 0) throw new Error(failed.map((f) => `${f.model}: ${f.error.message}`).join('\n'))
  } catch (error) {
    failRun(error)
  }
}
