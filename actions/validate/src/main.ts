import * as core from '@actions/core'
import { EndpointsClient } from '../../../src/hf/endpoints.js'
import { SpaceManager } from '../../../src/hf/space-manager.js'
import { RailwayClient } from '../../../src/railway/client.js'
import { DEFAULT_HF_TOKEN_VARIABLE } from '../../../src/railway/plans.js'
import { readRailwayStatus } from '../../../src/railway/switch.js'
import { type CognitiaReport, validateCognitia } from '../../../src/validate/cognitia.js'
import { summaryTables, type ValidationReport, writeReport } from '../../../src/validate/report.js'
import { type SpaceReport, validateSpace } from '../../../src/validate/space.js'
import { maskSecret } from '../../common/inputs.js'
import { coreLogger, failRun, spaceClient, waitForSpaceApi } from '../../common/toolkit.js'
import { type Inputs, readInputs } from './inputs.js'

export const OUTPUT = { passed: 'passed', reportPath: 'report-path' } as const

async function validateTheSpace(inputs: Inputs): Promise<SpaceReport> {
  const client = spaceClient(inputs)
  // The Hub's word on hardware beats the Space's own; it needs the Space id and a token that can read it.
  await waitForSpaceApi(client, inputs)
  const runtime =
    inputs.spaceId && inputs.hfToken
      ? new SpaceManager({ token: inputs.hfToken, hubUrl: process.env.HF_ENDPOINT || undefined, logger: coreLogger })
      : undefined
  const endpoints =
    inputs.endpoint && inputs.hfToken
      ? new EndpointsClient({
          token: inputs.hfToken,
          apiUrl: process.env.HF_ENDPOINTS_API_URL || undefined,
          logger: coreLogger,
        })
      : undefined
  return validateSpace(
    { client, logger: coreLogger, runtime, endpoints },
    {
      ttftMsMax: inputs.ttftMsMax,
      tokensPerSecondMin: inputs.tokensPerSecondMin,
      requiredModels: inputs.models,
      requireGpu: inputs.requireGpu,
      allowPaidHardware: inputs.allowPaidHardware,
      authExpected: Boolean(inputs.hfToken || inputs.apiKey),
      spaceId: inputs.spaceId,
      endpoint: inputs.endpoint,
      awakeHoursPerDay: inputs.awakeHoursPerDay,
      monthlyTokens: inputs.monthlyTokens,
    },
  )
}

function validateTheCognitiaSide(inputs: Inputs): Promise<CognitiaReport> {
  const { railway } = inputs
  const client = new RailwayClient({
    token: railway.token,
    tokenKind: railway.tokenKind,
    endpoint: process.env.RAILWAY_API_URL || undefined,
    logger: coreLogger,
  })
  const variables = {
    readVariable: async (name: string) =>
      (
        await readRailwayStatus(client, {
          project: railway.project,
          environment: railway.environment,
          service: railway.service,
          variable: name,
          hfTokenVariable: DEFAULT_HF_TOKEN_VARIABLE,
          onSecret: maskSecret,
        })
      ).currentUrl,
  }
  return validateCognitia(
    { variables, logger: coreLogger },
    { expectedUrl: inputs.baseUrl, variable: railway.variable, healthUrl: inputs.healthUrl },
  )
}

async function writeSummary(report: ValidationReport, inputs: Inputs): Promise<void> {
  const what = inputs.endpoint ? 'Inference Endpoint' : 'Space'
  const heading = report.target === 'space' ? `${what} ${inputs.baseUrl}` : `Cognitia → ${inputs.baseUrl}`
  core.summary.addHeading(`Validate: ${heading} — ${report.passed ? 'passed' : 'FAILED'}`, 2)
  for (const table of summaryTables(report)) {
    core.summary.addHeading(table.title, 3)
    core.summary.addTable([table.header.map((data) => ({ data, header: true })), ...table.rows])
  }
  core.summary.addRaw(`JSON report: ${inputs.reportPath}`, true)
  await core.summary.write()
}

export async function run(): Promise<void> {
  try {
    const inputs = readInputs()
    const report = inputs.target === 'space' ? await validateTheSpace(inputs) : await validateTheCognitiaSide(inputs)
    await writeReport(inputs.reportPath, report)
    core.setOutput(OUTPUT.reportPath, inputs.reportPath)
    core.setOutput(OUTPUT.passed, String(report.passed))
    await writeSummary(report, inputs)
    const failed = report.checks.filter((c) => c.status === 'fail')
    if (failed.length === 0) {
      core.notice(`${report.checks.filter((c) => c.status === 'pass').length} checks passed`)
      return
    }
    const message = `${failed.length} check(s) failed:\n${failed.map((c) => `- ${c.title}: ${c.observed} (expected ${c.expected})${c.detail ? ` — ${c.detail}` : ''}`).join('\n')}`
    if (inputs.reportOnly) core.warning(`${message}\n(report-only: not failing the step)`)
    else core.setFailed(message)
  } catch (error) {
    failRun(error)
  }
}
