/**
 * The create-endpoint job as one idempotent sequence: preflight, create or update, then wait until
 * running. The container is the one the Docker runtime builds on: the `ollama/ollama` image that
 * space/Dockerfile pins by digest, started by space/docker/entrypoint.sh, which serves Ollama and pulls
 * the catalog's models (ZEROLLAMA_PULL_MODELS). An unchanged, running endpoint gets no write at all.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigurationError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { EndpointInstance } from '../validate/cost.js'
import {
  type Endpoint,
  type EndpointAccess,
  type EndpointConfig,
  type EndpointsClient,
  endpointChanges,
  endpointPageUrl,
  OLLAMA_HEALTH_ROUTE,
  OLLAMA_PORT,
} from './endpoints.js'

export interface EndpointDeployRequest {
  namespace: string
  name: string
  /** A priced instance of space/costs.json (its vendor, accelerator, type and size). */
  instance: EndpointInstance & { key: string }
  region: string
  minReplica: number
  maxReplica: number
  scaleToZeroTimeout: number | null
  access: EndpointAccess
  repository: string
  /** Ollama names pulled at start. */
  models: string[]
  /** The folder holding Dockerfile and docker/entrypoint.sh (space/). */
  spaceDir: string
  waitTimeoutMs: number
  dryRun: boolean
}

export interface EndpointDeployResult {
  endpoint: string
  pageUrl: string
  /** Where Ollama answers, the endpoint's URL; '' while the API has given none (a dry run of a new one). */
  apiBaseUrl: string
  state: string
  /** What this run changed (or, in a dry run, would change), in words. */
  changes: string[]
}

/** The Ollama image space/Dockerfile builds on, with its digest: the endpoint runs the very same one. */
export async function ollamaImage(spaceDir: string): Promise<string> {
  const dockerfile = await readFile(join(spaceDir, 'Dockerfile'), 'utf8')
  const image = /^FROM\s+(ollama\/ollama\S*@sha256:[0-9a-f]{64})\s*$/m.exec(dockerfile)?.[1]
  if (!image) {
    throw new ConfigurationError(
      `${join(spaceDir, 'Dockerfile')} has no "FROM ollama/ollama…@sha256:<digest>" line: the endpoint runs that pinned image`,
    )
  }
  return image
}

/** The endpoint's container settings, read from the Docker runtime's own files. */
export async function endpointConfig(request: EndpointDeployRequest): Promise<EndpointConfig> {
  const [image, entrypoint, dockerfile] = await Promise.all([
    ollamaImage(request.spaceDir),
    readFile(join(request.spaceDir, 'docker', 'entrypoint.sh'), 'utf8'),
    readFile(join(request.spaceDir, 'Dockerfile'), 'utf8'),
  ])
  const keepAlive = /OLLAMA_KEEP_ALIVE=(\S+)/.exec(dockerfile)?.[1]
  return {
    namespace: request.namespace,
    name: request.name,
    vendor: request.instance.vendor,
    region: request.region,
    accelerator: request.instance.accelerator,
    instanceType: request.instance.instance_type,
    instanceSize: request.instance.instance_size,
    minReplica: request.minReplica,
    maxReplica: request.maxReplica,
    scaleToZeroTimeout: request.scaleToZeroTimeout,
    type: request.access,
    repository: request.repository,
    image: { url: image, healthRoute: OLLAMA_HEALTH_ROUTE, port: OLLAMA_PORT },
    // The image has no copy of the script: it runs as the shell's program text.
    command: ['/bin/sh', '-c', entrypoint],
    env: {
      OLLAMA_HOST: `0.0.0.0:${OLLAMA_PORT}`,
      ...(keepAlive ? { OLLAMA_KEEP_ALIVE: keepAlive } : {}),
      ZEROLLAMA_PULL_MODELS: request.models.join(' '),
    },
  }
}

/** Replica bounds and the scale-to-zero rule, checked before anything is sent. */
export function checkScaling(request: Pick<EndpointDeployRequest, 'minReplica' | 'maxReplica' | 'scaleToZeroTimeout'>) {
  if (request.maxReplica < Math.max(1, request.minReplica)) {
    throw new ConfigurationError(
      `max-replicas (${request.maxReplica}) must be at least 1 and at least min-replicas (${request.minReplica})`,
    )
  }
  if (request.minReplica === 0 && request.scaleToZeroTimeout === null) {
    throw new ConfigurationError(
      'min-replicas 0 scales to zero: set scale-to-zero-minutes (how long without requests before it sleeps, e.g. 15)',
    )
  }
}

export async function deployEndpoint(
  client: EndpointsClient,
  request: EndpointDeployRequest,
  logger: Logger,
): Promise<EndpointDeployResult> {
  const { namespace, name } = request
  const id = `${namespace}/${name}`
  checkScaling(request)
  const config = await endpointConfig(request)
  await logger.group('Preflight', () => client.preflight(namespace))
  const existing = await logger.group('Endpoint', async () => {
    const found = await client.find(namespace, name)
    logger.info(found ? `${id} exists (${found.state})` : `${id} does not exist yet`)
    return found
  })
  const asleepIsUp = request.minReplica === 0
  if (request.dryRun) {
    return logger.group('Plan (dry run, nothing changes)', async () => {
      const changes = existing
        ? endpointChanges(existing, config)
        : [`create ${request.access} endpoint on ${request.instance.label} in ${request.region}`]
      for (const change of changes) logger.info(`would ${change}`)
      return result(request, existing, changes)
    })
  }

  const changes: string[] = []
  await logger.group(existing ? 'Update' : 'Create', async () => {
    if (!existing) {
      logger.info(
        `creating ${request.access} endpoint ${id}: ${request.instance.label} in ${request.region}, replicas ${request.minReplica}–${request.maxReplica}, image ${config.image.url}`,
      )
      const outcome = await client.create(config)
      if (outcome === 'existed') {
        logger.info(`${id} was created meanwhile; updating it instead`)
        const now = await client.find(namespace, name)
        if (now && endpointChanges(now, config).length > 0) await client.update(config)
      }
      changes.push(`created ${request.access} endpoint on ${request.instance.label}`)
      return
    }
    const differences = endpointChanges(existing, config)
    for (const change of differences) logger.info(change)
    if (differences.length > 0) {
      await client.update(config)
      changes.push(...differences)
    } else if (existing.state === 'paused') {
      await client.resume(namespace, name)
      changes.push('resume (was paused)')
    } else if (existing.state === 'failed' || existing.state === 'updateFailed') {
      // Nothing differs, so nothing would redeploy it by itself: send the same configuration again.
      await client.update(config)
      changes.push(`redeploy (was ${existing.state})`)
    } else {
      logger.info('nothing changed: the endpoint already matches')
    }
  })

  const endpoint = await logger.group('Wait until running', () =>
    client.waitUntilRunning(namespace, name, {
      timeoutMs: request.waitTimeoutMs,
      expectChange: changes.length > 0,
      asleepIsUp,
    }),
  )
  if (endpoint.state === 'scaledToZero') logger.info(`${id} is scaled to zero: it wakes on the first request`)
  return result(request, endpoint, changes)
}

function result(request: EndpointDeployRequest, endpoint: Endpoint | undefined, changes: string[]) {
  return {
    endpoint: `${request.namespace}/${request.name}`,
    pageUrl: endpointPageUrl(request.namespace, request.name),
    apiBaseUrl: (endpoint?.url ?? '').replace(/\/+$/, ''),
    state: endpoint?.state ?? 'absent',
    changes,
  }
}
