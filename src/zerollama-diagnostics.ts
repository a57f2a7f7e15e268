/**
 * The zerollama Space's `GET /api/zerollama/diagnostics` (space/zerollama/api/diagnostics.py): what a first
 * real deploy on ZeroGPU has to confirm, as seen by the request that asked. Read by actions/validate
 * through OllamaClient.diagnostics(); a real Ollama has no such route.
 */
import { fieldProblem, isObject } from './zerollama-catalog.js'

export const DIAGNOSTICS_PATH = '/api/zerollama/diagnostics'

export interface ZerollamaDiagnostics {
  /** `spaces` runs in ZeroGPU mode (false locally and on dedicated hardware). */
  zerogpu: boolean
  /** The installed `spaces` package; null when it is not installed. */
  spaces_version: string | null
  /** The platform handed this request an X-IP-Token: its GPU time is billed to the caller. */
  x_ip_token_present: boolean
  gpu: {
    /** The node's GPU, as `spaces` names it; null off ZeroGPU. */
    model: string | null
    /** Every requested duration is multiplied by it (1.5 on RTX PRO 6000, 1.0 on H200). */
    duration_factor: number | null
    /** Packed bytes above which every call becomes `xlarge`. */
    xlarge_threshold_bytes: number | null
    /** `large`, or `xlarge` (2× quota per call); null off ZeroGPU. */
    default_size: string | null
  }
  /** Bounds of the duration each request asks for, before the factor. */
  durations: { min_seconds: number; max_seconds: number }
  /** Models resident in every worker, and their bytes. */
  packed: { bytes: number; models: string[] }
  /** A new worker's copy of the packs: the server's estimate, and the last one it measured (null: none yet). */
  cold_start: { estimated_seconds: number; last_measured_seconds: number | null }
  /**
   * What ran the last generation's decode steps in the GPU worker: "cuda-graph", "eager", or "eager (static
   * cache)" where a graph was refused (null: no generation yet); and the last CUDA-graph capture's seconds.
   */
  decode: { last_step: string | null; last_capture_seconds: number | null }
  models: { name: string; loaded: boolean; tokens_per_second: number | null }[]
}

export class ZerollamaDiagnosticsError extends Error {
  override name = 'ZerollamaDiagnosticsError'
}

type Shape = Record<string, [type: string, nullable?: boolean]>

const TOP: Shape = {
  zerogpu: ['boolean'],
  spaces_version: ['string', true],
  x_ip_token_present: ['boolean'],
  gpu: ['object'],
  durations: ['object'],
  packed: ['object'],
  cold_start: ['object'],
  decode: ['object'],
  models: ['array'],
}
const NESTED: Record<string, Shape> = {
  gpu: {
    model: ['string', true],
    duration_factor: ['number', true],
    xlarge_threshold_bytes: ['number', true],
    default_size: ['string', true],
  },
  durations: { min_seconds: ['number'], max_seconds: ['number'] },
  packed: { bytes: ['number'], models: ['array'] },
  cold_start: { estimated_seconds: ['number'], last_measured_seconds: ['number', true] },
  decode: { last_step: ['string', true], last_capture_seconds: ['number', true] },
}
const MODEL: Shape = { name: ['string'], loaded: ['boolean'], tokens_per_second: ['number', true] }

function expectShape(object: Record<string, unknown>, shape: Shape, where: string): void {
  for (const [key, [type, nullable]] of Object.entries(shape)) {
    const problem = fieldProblem(object, key, type, where, nullable)
    if (problem) throw new ZerollamaDiagnosticsError(`diagnostics: ${problem}`)
  }
}

/** Checks every field the validate report reads, so a server that drifts from it fails here, by name. */
export function parseZerollamaDiagnostics(value: unknown): ZerollamaDiagnostics {
  if (!isObject(value)) throw new ZerollamaDiagnosticsError('diagnostics: the body is not a JSON object')
  expectShape(value, TOP, '')
  for (const [key, shape] of Object.entries(NESTED))
    expectShape(value[key] as Record<string, unknown>, shape, `${key}.`)
  for (const [index, model] of (value.models as unknown[]).entries()) {
    if (!isObject(model)) throw new ZerollamaDiagnosticsError(`diagnostics: models[${index}] is not an object`)
    expectShape(model, MODEL, `models[${index}].`)
  }
  return value as unknown as ZerollamaDiagnostics
}
