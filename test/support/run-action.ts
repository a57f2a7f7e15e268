/**
 * The bundle tests' view of src/cli/action-runner.ts: the same runner the CLI and the rehearsal use,
 * quiet, with a deadline so a hung bundle fails its test rather than the suite.
 */
import { type ActionResult, runActionBundle } from '../../src/cli/action-runner.js'

export { parseInputDefaults } from '../../src/action-yml.js'
export { inputVariable, parseOutputFile } from '../../src/cli/action-runner.js'
export type ActionRun = ActionResult

const runTimeoutMs = 120_000

export function runAction(
  name: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {},
): Promise<ActionRun> {
  return runActionBundle(name, inputs, { env, print: null, timeoutMs: runTimeoutMs })
}
