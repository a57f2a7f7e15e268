// The glue every action's main.ts shares with @actions/core. Domain code in src/ never imports the
// toolkit; it receives `coreLogger` instead, so the same code runs in the CLI and the rehearsal.
import * as core from '@actions/core'
import { ConfigurationError, errorMessage } from '../../src/errors.js'
import type { Logger } from '../../src/logger.js'
import { OllamaClient } from '../../src/ollama/client.js'

export const coreLogger: Logger = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  debug: (m) => core.debug(m),
  group: (name, fn) => core.group(name, fn),
}

/**
 * Ends the step as failed with a message for the operator. Input and credential problems
 * (ConfigurationError) need no stack; anything else keeps it in the debug log for bug reports.
 */
export function failRun(error: unknown): void {
  if (!(error instanceof ConfigurationError) && error instanceof Error && error.stack) core.debug(error.stack)
  core.setFailed(errorMessage(error))
}

/**
 * A Space that just restarted, or wakes from sleep, serves its port a little before its API routes.
 * The wait lasts what is left of the step's own budget (its timeout-minutes input, counted from the
 * start of this process), never a fixed time that could outlast the job or give up too early.
 */
export async function waitForSpaceApi(client: OllamaClient, budget: { timeoutMinutes: number }): Promise<void> {
  const timeoutMs = Math.max(1000, budget.timeoutMinutes * 60_000 - process.uptime() * 1000)
  await core.group('Wait for the Space API', async () => {
    core.info(`API version ${await client.waitUntilReady({ timeoutMs })}`)
  })
}

export interface SpaceConnection {
  baseUrl: string
  hfToken?: string
  apiKey?: string
  /** The whole step's budget: every request to the Space is cut off once it is spent. */
  timeoutMinutes: number
}

/** The Space API client the pull-models and validate actions talk through. */
export function spaceClient({ baseUrl, hfToken, apiKey, timeoutMinutes }: SpaceConnection): OllamaClient {
  return new OllamaClient({ baseUrl, hfToken, apiKey, signal: AbortSignal.timeout(timeoutMinutes * 60_000) })
}
