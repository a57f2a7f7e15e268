/** Shared set-up for tests that drive RailwayClient against the Railway fake. */
import { type Logger, recordingLogger } from '../../src/logger.js'
import { RailwayClient, type RailwayClientOptions } from '../../src/railway/client.js'
import { DEFAULT_HF_TOKEN_VARIABLE, DEFAULT_VARIABLE, type SwitchSettings } from '../../src/railway/plans.js'
import { instantClock } from '../support/clock.js'
import { COGNITIA, type RailwayFake } from './railway.js'

export const SPACE_URL = 'https://acme-zerollama.hf.space'
export const HF_TOKEN = 'hf_fakeSpaceReadToken0123456789abcdef'

export function fakeClient(
  fake: RailwayFake,
  options: Partial<RailwayClientOptions> = {},
): { client: RailwayClient; logger: Logger & { lines: string[] }; clock: ReturnType<typeof instantClock> } {
  const logger = recordingLogger()
  const clock = instantClock()
  const client = new RailwayClient({
    token: COGNITIA.projectToken,
    tokenKind: 'project',
    endpoint: fake.url,
    logger,
    clock,
    // Generous: a loaded CI machine must not turn a slow answer into a spurious timeout.
    // Tests of the timeout path pass a short one.
    timeoutMs: 5000,
    ...options,
  })
  return { client, logger, clock }
}

export function switchSettings(overrides: Partial<SwitchSettings> = {}): SwitchSettings {
  return {
    environment: 'production',
    service: 'cognitia',
    ollamaService: 'ollama',
    variable: DEFAULT_VARIABLE,
    spaceUrl: SPACE_URL,
    hfTokenVariable: DEFAULT_HF_TOKEN_VARIABLE,
    dryRun: false,
    deploymentTimeoutMs: 10 * 60_000,
    ...overrides,
  }
}
