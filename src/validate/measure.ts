import { findModel } from '../catalog.js'
import type { OllamaClient } from '../ollama/client.js'
import type { GenerateChunk, RunningModel } from '../ollama/types.js'
import { type Clock, realClock } from '../retry.js'
import type { Device, ModelMeasurement } from './types.js'

export interface MeasureOptions {
  prompt?: string
  /** Tokens to generate in the measured reply: enough for a stable tokens/s figure. */
  numPredict?: number
  clock?: Clock
}

const DEFAULT_PROMPT = 'Explain in three sentences why the sky is blue.'

/**
 * A model in /api/ps with bytes in VRAM runs on the GPU; one with none runs on the CPU. /api/ps shows names
 * with their tag (`phi3:latest` for the catalog's `phi3`): compared through the catalog.
 */
export function deviceOf(model: string, running: RunningModel[]): Device {
  const wanted = findModel(model)?.name ?? model
  const entry = running.find((m) => [m.name, m.model].some((name) => (findModel(name)?.name ?? name) === wanted))
  if (!entry) return 'unknown'
  return entry.size_vram > 0 ? 'gpu' : 'cpu'
}

/**
 * Measures one model warm: a one-token generation first loads it (its own TTFT is the cold start,
 * which the threshold does not judge), then a streamed reply gives TTFT and tokens/s. The device is
 * read from /api/ps right after, while the model is still resident.
 */
export async function measureModel(
  client: OllamaClient,
  model: string,
  options: MeasureOptions = {},
): Promise<ModelMeasurement> {
  const { prompt = DEFAULT_PROMPT, numPredict = 64, clock = realClock } = options
  for await (const _ of client.generate({ model, prompt: 'Hi', options: { num_predict: 1 } })) {
    // drain: only the load matters
  }
  const sent = clock.now()
  let firstTokenAt: number | undefined
  let streamedChunks = 0
  let final: GenerateChunk | undefined
  for await (const chunk of client.generate({ model, prompt, options: { num_predict: numPredict, temperature: 0 } })) {
    if (chunk.response) {
      firstTokenAt ??= clock.now()
      streamedChunks++
    }
    if (chunk.done) final = chunk
  }
  const finishedAt = clock.now()
  const ttftMs = (firstTokenAt ?? finishedAt) - sent
  const generatedTokens = final?.eval_count ?? streamedChunks
  const serverSpeed = final?.eval_count && final.eval_duration ? (final.eval_count / final.eval_duration) * 1e9 : null
  const wallSeconds = (finishedAt - (firstTokenAt ?? sent)) / 1000
  const tokensPerSecond = serverSpeed ?? (wallSeconds > 0 ? streamedChunks / wallSeconds : 0)
  const device = deviceOf(model, await client.ps())
  return {
    model,
    ttftMs,
    tokensPerSecond,
    generatedTokens,
    device,
    gpuSeconds: final?.zerollama?.gpu_seconds ?? null,
    replyCostCop: final?.zerollama?.cost_cop ?? null,
  }
}
