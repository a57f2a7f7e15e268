import type { ZerollamaDiagnostics } from '../zerollama-diagnostics.js'
import type { CheckResult } from './types.js'

/**
 * Checks on what the Space's ZeroGPU runtime reports (GET /api/zerollama/diagnostics): the questions
 * only a real deploy answers. Pure functions of the report; off ZeroGPU each is skipped with the reason.
 */

const OFF_ZEROGPU = 'the server is not on ZeroGPU (local rehearsal or dedicated hardware): nothing to confirm'

const skipped = (base: Omit<CheckResult, 'status' | 'observed'>): CheckResult => ({
  ...base,
  status: 'skip',
  observed: 'ZeroGPU off',
  detail: OFF_ZEROGPU,
})

/** The next step when no caller token reached the app; `hfTokenSent`: this request carried one. */
function callerBillingNextStep(hfTokenSent: boolean): string {
  const why = "so GPU time is billed to the caller, not the Space's small shared pool (429 under load)"
  if (!hfTokenSent)
    return `pass hf-token, and have Cognitia send an HF token as "Authorization: Bearer hf_…" or "X-HF-Authorization", ${why}`
  return `the hf-token went as "Authorization: Bearer" and no X-IP-Token came of it: try it as "X-HF-Authorization" (docs/runbook.md §7), ${why}`
}

/** ZeroGPU bills each call to whoever the X-IP-Token names; without one, the Space's own pool pays. */
export function checkCallerBilling(d: ZerollamaDiagnostics, hfTokenSent: boolean): CheckResult {
  const base = {
    id: 'zerogpu-caller-billing',
    title: 'GPU time billed to the caller (X-IP-Token reached the app)',
    expected: 'X-IP-Token present',
  }
  if (!d.zerogpu) return skipped(base)
  if (d.x_ip_token_present) return { ...base, status: 'pass', observed: 'X-IP-Token present' }
  return {
    ...base,
    status: 'fail',
    observed: hfTokenSent ? 'no X-IP-Token' : 'no X-IP-Token (validate sent no hf-token)',
    detail: callerBillingNextStep(hfTokenSent),
  }
}

/** `xlarge` only comes from ZEROLLAMA_ALLOW_XLARGE=1, so it informs (skip) rather than fails. */
export function checkGpuSize(d: ZerollamaDiagnostics): CheckResult {
  const base = { id: 'zerogpu-gpu-size', title: 'Default GPU size (xlarge costs 2× quota per call)', expected: 'large' }
  if (!d.zerogpu) return skipped(base)
  const size = d.gpu.default_size ?? 'unknown'
  if (size === 'large') return { ...base, status: 'pass', observed: size }
  return {
    ...base,
    status: 'skip',
    observed: size,
    detail:
      size === 'xlarge'
        ? 'every call costs 2× quota: unset ZEROLLAMA_ALLOW_XLARGE (Space variable) unless that is intended'
        : 'spaces did not say; read gpu.default_size in the diagnostics (docs/runbook.md §7)',
  }
}

export function checkColdStart(d: ZerollamaDiagnostics): CheckResult {
  const base = {
    id: 'zerogpu-cold-start',
    title: "A new worker's copy of the packs fits the requested duration",
    expected: d.zerogpu
      ? `≤ ${d.cold_start.estimated_seconds.toFixed(1)} s (the server's estimate)`
      : "≤ the server's estimate",
  }
  if (!d.zerogpu) return skipped(base)
  const measured = d.cold_start.last_measured_seconds
  if (measured === null)
    return {
      ...base,
      status: 'skip',
      observed: 'not measured yet',
      detail:
        'no new worker has reported its copy yet; read cold_start again after the next restart (docs/runbook.md §7)',
    }
  // Measured above the estimate: requested durations do not cover a new worker's copy of the packs.
  const covered = measured <= d.cold_start.estimated_seconds
  return {
    ...base,
    status: covered ? 'pass' : 'fail',
    observed: `${measured.toFixed(1)} s measured`,
    detail: covered
      ? undefined
      : 'lower ZEROLLAMA_COLD_COPY_GB_PER_SECOND (Space variable) until the estimate covers the measurement; ' +
        'replies ending early with done_reason "length" are the symptom',
  }
}

/**
 * Eager steps give the same answers, only slower (a 7B model's eager step is host-bound), so this informs
 * (skip) rather than fails; the tokens/s check judges the speed itself.
 */
export function checkDecodeStep(d: ZerollamaDiagnostics): CheckResult {
  const base = { id: 'zerogpu-decode-step', title: 'Decode steps replayed as CUDA graphs', expected: 'cuda-graph' }
  if (!d.zerogpu) return skipped(base)
  const { last_step: step, last_capture_seconds: capture } = d.decode
  if (step === null)
    return { ...base, status: 'skip', observed: 'no generation yet', detail: 'read decode again after a reply' }
  if (step === 'cuda-graph')
    return { ...base, status: 'pass', observed: capture === null ? step : `${step}, capture ${capture.toFixed(2)} s` }
  return {
    ...base,
    status: 'skip',
    observed: step,
    detail:
      'the GPU worker stepped eagerly: the Space log says why ("CUDA graph capture failed" or "differs from the ' +
      'eager step"); ZEROLLAMA_CUDA_GRAPHS=0 (Space variable) turns graphs off on purpose',
  }
}

export function zerogpuChecks(d: ZerollamaDiagnostics, hfTokenSent: boolean): CheckResult[] {
  return [checkCallerBilling(d, hfTokenSent), checkGpuSize(d), checkColdStart(d), checkDecodeStep(d)]
}
