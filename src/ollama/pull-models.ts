import { type CatalogModel, findModel } from '../catalog.js'
import type { Logger } from '../logger.js'
import { type Clock, realClock } from '../retry.js'
import { OllamaApiError, type OllamaClient } from './client.js'
import { type ProgressOptions, pullProgress } from './progress.js'

/** A gated Hugging Face repo whose license the Space's account has not accepted. */
export class GatedModelError extends OllamaApiError {
  override name = 'GatedModelError'
  readonly modelPage: string
  constructor(
    readonly model: string,
    readonly repo: string,
    cause: OllamaApiError,
  ) {
    const modelPage = `https://huggingface.co/${repo}`
    super('/api/pull', `${model} is gated on Hugging Face (${cause.serverMessage})`, {
      status: cause.status,
      nextStep: `accept its license at ${modelPage} while signed in as the account of the Space's HF token, then re-run`,
    })
    this.modelPage = modelPage
  }
}

export interface PulledModel {
  model: string
  repo: string
  pullSeconds: number
  warmupSeconds: number
  warmupTokens: number
  progressLines: number
}

export interface PullFailure {
  model: string
  repo: string
  error: Error
}

/** A 401/403 on a pull, or a message about gating, means the weights are behind a license wall. */
function isGatedRefusal(model: CatalogModel, error: OllamaApiError): boolean {
  if (error.status === 403) return true
  if (/gated|licen[cs]e|accept/i.test(error.serverMessage)) return true
  return model.gated !== false && error.status === 401
}

/**
 * Pulls each model into the Space, then proves it is usable: listed by /api/tags and able to answer
 * one short warm-up generation (which also loads it, so validate measures a warm model). A failing model
 * does not stop the others: the operator learns every gated or broken model from one run.
 */
export async function pullModels(
  client: OllamaClient,
  models: CatalogModel[],
  logger: Logger,
  options: { progress?: ProgressOptions; clock?: Clock } = {},
): Promise<{ pulled: PulledModel[]; failed: PullFailure[] }> {
  const clock = options.clock ?? realClock
  const pulled: PulledModel[] = []
  const failed: PullFailure[] = []
  for (const model of models) {
    const result = await logger
      .group(`Pull ${model.name} (${model.repo})`, async () => {
        if (model.gated)
          logger.info(`${model.name} is gated (${model.gated}): the Space's HF account must have accepted its license`)
        const started = clock.now()
        const progress = pullProgress(model.name, logger, { clock, ...options.progress })
        try {
          await client.pull(model.name, progress.onStatus)
        } catch (error) {
          if (error instanceof OllamaApiError && isGatedRefusal(model, error))
            throw new GatedModelError(model.name, model.repo, error)
          throw error
        }
        const pullSeconds = (clock.now() - started) / 1000
        const tags = await client.tags()
        const listed = tags.some((tag) => findModel(tag.name)?.name === model.name)
        if (!listed) throw new OllamaApiError('/api/tags', `${model.name} was pulled but is not listed`, {})
        const warmStart = clock.now()
        let warmupTokens = 0
        for await (const chunk of client.generate({ model: model.name, prompt: 'Hi', options: { num_predict: 8 } }))
          if (chunk.done) warmupTokens = chunk.eval_count ?? 0
        const warmupSeconds = (clock.now() - warmStart) / 1000
        logger.info(`${model.name}: ready (pull ${pullSeconds.toFixed(1)} s, warm-up ${warmupSeconds.toFixed(1)} s)`)
        return {
          model: model.name,
          repo: model.repo,
          pullSeconds,
          warmupSeconds,
          warmupTokens,
          progressLines: progress.lines(),
        }
      })
      .catch((error: unknown) => {
        const failure = {
          model: model.name,
          repo: model.repo,
          error: error instanceof Error ? error : new Error(String(error)),
        }
        logger.warning(`${model.name}: ${failure.error.message}`)
        failed.push(failure)
        return undefined
      })
    if (result) pulled.push(result)
  }
  return { pulled, failed }
}
