/** Results of the validate checks; the JSON report is built from these. */

export type CheckStatus = 'pass' | 'fail' | 'skip'

export interface CheckResult {
  /** Stable id, e.g. `ttft:qwen2.5:7b`, `models-present`, `auth`, `hardware-billing`. */
  id: string
  title: string
  status: CheckStatus
  /** What was measured or seen, human readable ("412 ms"). */
  observed: string
  /** The threshold it was held to ("< 1000 ms"). */
  expected: string
  /** What to do when it failed, or why it was skipped. */
  detail?: string
}

export type Device = 'gpu' | 'cpu' | 'unknown'

export interface ModelMeasurement {
  model: string
  /** Time to first token of a warm model, request sent → first non-empty chunk. */
  ttftMs: number
  /** Server-measured decode speed (eval_count / eval_duration); wall clock when the server gives none. */
  tokensPerSecond: number
  generatedTokens: number
  device: Device
  /** What the measured reply cost, from the final chunk's `zerollama` field (absent on real Ollama). */
  gpuSeconds: number | null
  replyCostCop: number | null
}

/** The Space's hardware as the Hub reports it (SpaceManager.getRuntime). */
export interface SpaceRuntimeInfo {
  stage: string
  hardware: { current: string | null; requested: string | null }
}

export interface RuntimeReader {
  getRuntime(spaceId: string): Promise<SpaceRuntimeInfo>
}
