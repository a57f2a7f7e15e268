import * as core from '@actions/core'
import { modelsOrDefaults } from '../../../src/catalog.js'
import { ConfigurationError } from '../../../src/errors.js'
import {
  deployEndpoint,
  type EndpointDeployRequest,
  type EndpointDeployResult,
} from '../../../src/hf/deploy-endpoint.js'
import { ENDPOINT_ACCESS, EndpointsClient, parseEndpointId } from '../../../src/hf/endpoints.js'
import { endpointInstances, findEndpointInstance } from '../../../src/validate/cost.js'
import { actionInputs, secretInput } from '../../common/inputs.js'
import { coreLogger, failRun } from '../../common/toolkit.js'

export const Inputs = {
  endpoint: 'endpoint',
  hfToken: 'hf-token',
  instance: 'instance',
  region: 'region',
  minReplicas: 'min-replicas',
  maxReplicas: 'max-replicas',
  scaleToZeroMinutes: 'scale-to-zero-minutes',
  access: 'access',
  models: 'models',
  repository: 'repository',
  spaceDir: 'space-dir',
  waitTimeoutMinutes: 'wait-timeout-minutes',
  dryRun: 'dry-run',
} as const

export const Outputs = {
  endpoint: 'endpoint',
  endpointUrl: 'endpoint-url',
  apiBaseUrl: 'api-base-url',
  state: 'state',
} as const

/** Every default comes from this action's action.yml (the instance's from space/costs.json). */
const input = actionInputs(new URL('../action.yml', import.meta.url))

function readInputs(): EndpointDeployRequest & { token: string } {
  const token = secretInput(Inputs.hfToken, { required: true }) ?? ''
  const { namespace, name } = parseEndpointId(input.required(Inputs.endpoint))
  const wanted = input.optional(Inputs.instance) ?? ''
  const instance = findEndpointInstance(wanted)
  if (!instance) {
    throw new ConfigurationError(
      `input ${Inputs.instance} "${wanted}" has no price in space/costs.json endpoint_instances (${Object.keys(endpointInstances()).join(', ')}); add it there with its hourly price, or choose one of those`,
    )
  }
  const minutes = input.optional(Inputs.scaleToZeroMinutes)
  const scaleToZero = minutes === undefined ? null : Number(minutes)
  if (scaleToZero !== null && !(Number.isInteger(scaleToZero) && scaleToZero >= 1 && scaleToZero <= 10_080)) {
    throw new ConfigurationError(
      `input ${Inputs.scaleToZeroMinutes} must be whole minutes from 1 to 10080, got "${minutes}"`,
    )
  }
  // HF renamed "protected" to "authenticated"; both mean: callers need an HF token.
  const access =
    input.optional(Inputs.access) === 'protected' ? 'authenticated' : input.choice(Inputs.access, ENDPOINT_ACCESS)
  return {
    token,
    namespace,
    name,
    instance,
    region: input.required(Inputs.region),
    minReplica: input.number(Inputs.minReplicas, { min: 0, max: 100 }),
    maxReplica: input.number(Inputs.maxReplicas, { min: 1, max: 100 }),
    scaleToZeroTimeout: scaleToZero,
    access,
    repository: input.required(Inputs.repository),
    models: modelsOrDefaults(input.optional(Inputs.models)).map((m) => m.name),
    spaceDir: input.required(Inputs.spaceDir),
    waitTimeoutMs: input.number(Inputs.waitTimeoutMinutes, { min: 1, max: 360 }) * 60_000,
    dryRun: input.boolean(Inputs.dryRun),
  }
}

async function writeSummary(result: EndpointDeployResult, request: EndpointDeployRequest): Promise<void> {
  const scaling =
    request.minReplica === 0
      ? `0–${request.maxReplica}, to zero after ${request.scaleToZeroTimeout} min idle`
      : `${request.minReplica}–${request.maxReplica}`
  await core.summary
    .addHeading(`Inference Endpoint ${result.endpoint}${request.dryRun ? ' (dry run)' : ''}`, 2)
    .addTable([
      [
        { data: 'Item', header: true },
        { data: 'Value', header: true },
      ],
      ['Endpoint', result.pageUrl],
      ['API base URL', result.apiBaseUrl || '—'],
      [
        'Instance / region',
        `${request.instance.label} ($${request.instance.usd_per_hour}/h per replica) / ${request.region}`,
      ],
      ['Replicas', scaling],
      ['Access', request.access],
      ['Models pulled at start', request.models.join(', ')],
      ['State', result.state],
      [request.dryRun ? 'Would change' : 'Changed', result.changes.join('; ') || 'nothing'],
    ])
    .addRaw(request.dryRun ? 'Nothing was changed.' : 'Next: pull the models (pull-models job).', true)
    .write()
}

export async function run(): Promise<void> {
  try {
    const request = readInputs()
    core.setOutput(Outputs.endpoint, `${request.namespace}/${request.name}`)
    const client = new EndpointsClient({
      token: request.token,
      apiUrl: process.env.HF_ENDPOINTS_API_URL || undefined,
      logger: coreLogger,
    })
    const result = await deployEndpoint(client, request, coreLogger)
    core.setOutput(Outputs.endpointUrl, result.pageUrl)
    core.setOutput(Outputs.apiBaseUrl, result.apiBaseUrl)
    core.setOutput(Outputs.state, result.state)
    await writeSummary(result, request)
    core.notice(
      request.dryRun
        ? `dry run: ${result.changes.length} change(s) planned for ${result.endpoint}`
        : `${result.endpoint} is ${result.state}: ${result.apiBaseUrl}`,
    )
  } catch (error) {
    failRun(error)
  }
}
