import { findModel } from '../catalog.js'
import type { TagModel } from '../ollama/types.js'
import { type EndpointCostSection, hourlyUsd, isBilledHardware } from './cost.js'
import type { CheckResult, ModelMeasurement, SpaceRuntimeInfo } from './types.js'

/** Each check is a pure function of what was observed, so the thresholds are testable without a server. */

/** How each threshold reads, in a check's `expected` and in the PR plan: one wording for both. */
export const expectation = {
  ttft: (maxMs: number) => `< ${maxMs} ms`,
  tokensPerSecond: (min: number) => `> ${min} tokens/s`,
  gpu: (required: boolean) => (required ? 'gpu' : 'not checked (require-gpu is false)'),
  hardware: (allowPaid: boolean) => (allowPaid ? 'paid hardware allowed' : 'zero-a10g or cpu-basic'),
}

export function checkTtft(m: ModelMeasurement, maxMs: number): CheckResult {
  const ok = m.ttftMs < maxMs
  return {
    id: `ttft:${m.model}`,
    title: `${m.model} time to first token (warm)`,
    status: ok ? 'pass' : 'fail',
    observed: `${Math.round(m.ttftMs)} ms`,
    expected: expectation.ttft(maxMs),
    detail: ok
      ? undefined
      : 'keep the model resident on the GPU (default models load at start-up) or pick a smaller one',
  }
}

export function checkTokensPerSecond(m: ModelMeasurement, min: number): CheckResult {
  const ok = m.tokensPerSecond > min
  return {
    id: `tokens-per-second:${m.model}`,
    title: `${m.model} generation speed`,
    status: ok ? 'pass' : 'fail',
    observed: `${m.tokensPerSecond.toFixed(1)} tokens/s`,
    expected: expectation.tokensPerSecond(min),
    detail: ok ? undefined : 'check that the model runs on the GPU and in bf16; a smaller model is faster',
  }
}

/** Tag names may be aliases (`phi3:latest` for `phi3`); compare through the catalog. */
export function checkModelsPresent(required: string[], tags: TagModel[]): CheckResult {
  const present = new Set(tags.map((t) => findModel(t.name)?.name ?? t.name))
  const missing = required.filter((name) => !present.has(findModel(name)?.name ?? name))
  return {
    id: 'models-present',
    title: 'Required models present (/api/tags)',
    status: missing.length === 0 ? 'pass' : 'fail',
    observed: missing.length === 0 ? `${required.length} of ${required.length}` : `missing: ${missing.join(', ')}`,
    expected: required.join(', '),
    detail: missing.length === 0 ? undefined : 'run the pull-models action for the missing models',
  }
}

export function checkGpu(measurements: ModelMeasurement[], required = true): CheckResult {
  const title = 'Models run on the GPU (/api/ps)'
  if (!required)
    return { id: 'gpu', title, status: 'skip', observed: '-', expected: 'gpu', detail: 'require-gpu is false' }
  const offGpu = measurements.filter((m) => m.device !== 'gpu')
  return {
    id: 'gpu',
    title,
    status: measurements.length > 0 && offGpu.length === 0 ? 'pass' : 'fail',
    observed:
      offGpu.length === 0
        ? measurements.map((m) => `${m.model}: gpu`).join(', ') || 'no model measured'
        : offGpu.map((m) => `${m.model}: ${m.device}`).join(', '),
    expected: 'gpu',
    detail: offGpu.length === 0 ? undefined : "check the Space's hardware (zero-a10g) and its logs for CUDA errors",
  }
}

/**
 * A private Space (or one with a shared key) must refuse a request without credentials. HF's proxy
 * answers 401, or 404 so as not to reveal that the Space exists; the server's key check answers 401/403.
 */
export function checkAuth(expected: boolean, statusWithoutAuth: number | null): CheckResult {
  const base = { id: 'auth', title: 'Requests without credentials are refused', expected: '401, 403 or 404' }
  if (!expected || statusWithoutAuth === null)
    return { ...base, status: 'skip', observed: '-', detail: 'no hf-token or api-key given: a public Space is open' }
  const refused = [401, 403, 404].includes(statusWithoutAuth)
  return {
    ...base,
    status: refused ? 'pass' : 'fail',
    observed: `HTTP ${statusWithoutAuth}`,
    detail: refused ? undefined : 'make the Space private, or set the ZEROLLAMA_API_KEY secret on a public Space',
  }
}

/** Paid hardware bills by the minute whether or not anyone calls it; only an explicit opt-in allows it. */
export function checkHardwareBilling(
  runtime: SpaceRuntimeInfo | undefined,
  catalogHardware: string,
  allowPaid: boolean,
): CheckResult {
  const flavors = runtime
    ? [runtime.hardware.current, runtime.hardware.requested].filter((f): f is string => Boolean(f))
    : [catalogHardware]
  const billed = [...new Set(flavors)].filter((f) => isBilledHardware(f))
  const describe = (f: string) => {
    const price = hourlyUsd(f)
    return price === null ? `${f} (unknown flavor)` : `${f} ($${price}/h)`
  }
  const source = runtime ? 'Hub runtime' : 'Space catalog'
  return {
    id: 'hardware-billing',
    title: `No paid hardware billed (${source})`,
    status: billed.length === 0 || allowPaid ? 'pass' : 'fail',
    observed: billed.length === 0 ? `${flavors.join(' → ') || 'none'}: not billed` : billed.map(describe).join(', '),
    expected: expectation.hardware(allowPaid),
    detail:
      billed.length === 0 || allowPaid
        ? undefined
        : 'set the Space hardware back to zero-a10g, or pass allow-paid-hardware: true if this is intended',
  }
}

/** An Inference Endpoint always bills by the hour: it passes only when paid hardware is allowed. */
export function checkEndpointBilling(cost: EndpointCostSection, allowPaid: boolean): CheckResult {
  const replicas = cost.minReplica === cost.maxReplica ? `${cost.minReplica}` : `${cost.minReplica}–${cost.maxReplica}`
  return {
    id: 'hardware-billing',
    title: 'No paid hardware billed (Inference Endpoint)',
    status: allowPaid ? 'pass' : 'fail',
    observed: `${cost.instanceLabel} ($${cost.usdPerHour}/h per replica), ${replicas} replica(s), ${cost.awakeHoursPerDay} replica-hours a day`,
    expected: allowPaid ? 'paid hardware allowed' : 'zero-a10g or cpu-basic',
    detail: allowPaid
      ? undefined
      : 'an Inference Endpoint bills per minute while it runs: pass allow-paid-hardware: true to accept that',
  }
}
