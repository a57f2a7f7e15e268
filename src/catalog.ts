import catalogJson from '../space/models.json' with { type: 'json' }

/** One entry of space/models.json, the single model catalog shared with the Space server. */
export interface CatalogModel {
  name: string
  aliases: string[]
  repo: string
  family: string
  architecture: string
  parameter_size: string
  parameters: number
  bf16_bytes: number
  context_length: number
  capabilities: string[]
  license: string
  /** false, or the Hub's gating mode: "auto" (click-through) or "manual" (owner reviews requests). */
  gated: false | 'auto' | 'manual'
  purpose: string
  recommended_use: string
  curated: boolean
  display_order: number
  excluded_reason: string | null
  default_options: Record<string, number>
}

export interface Catalog {
  version: number
  default_models: string[]
  models: CatalogModel[]
}

export const catalog: Catalog = catalogJson as Catalog

/**
 * Ollama treats `name`, `name:latest`, `library/name` and `registry.ollama.ai/library/name` (and any
 * letter case) as the same model; so does the Space (space/zerollama/core/catalog.py normalise_name),
 * and test/fixtures/model-names.json holds both to the same cases.
 */
export function normaliseName(name: string): string {
  let trimmed = name.trim().toLowerCase()
  if (trimmed.startsWith('registry.ollama.ai/')) trimmed = trimmed.slice('registry.ollama.ai/'.length)
  if (trimmed.startsWith('library/')) trimmed = trimmed.slice('library/'.length)
  return (trimmed.split('/').at(-1) ?? '').includes(':') ? trimmed : `${trimmed}:latest`
}

/** Finds a model by its catalog name or any alias; undefined when the name is not in the catalog. */
export function findModel(name: string, source: Catalog = catalog): CatalogModel | undefined {
  const wanted = normaliseName(name)
  return source.models.find((m) => [m.name, ...m.aliases].some((n) => normaliseName(n) === wanted))
}

export class UnknownModelError extends Error {
  constructor(readonly unknown: string[]) {
    super(
      `Unknown model${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}. ` +
        `The catalog (space/models.json) has: ${catalog.models.map((m) => m.name).join(', ')}.`,
    )
    this.name = 'UnknownModelError'
  }
}

/** The models a run uses when it names none: space/models.json's default_models, their only home. */
export function defaultModelNames(source: Catalog = catalog): string[] {
  return source.default_models
}

/** resolveModels, where an empty list means the catalog's default_models. */
export function modelsOrDefaults(list: string | undefined, source: Catalog = catalog): CatalogModel[] {
  return resolveModels(list?.trim() ? list : defaultModelNames(source).join(', '), source)
}

/**
 * Parses a comma/space/newline separated list of model names into catalog entries, in the order given,
 * without duplicates. Throws UnknownModelError naming every unknown name at once.
 */
export function resolveModels(list: string, source: Catalog = catalog): CatalogModel[] {
  const names = list
    .split(/[\s,]+/)
    .map((n) => n.trim())
    .filter(Boolean)
  const unknown = names.filter((n) => !findModel(n, source))
  if (unknown.length > 0) throw new UnknownModelError(unknown)
  const found = names.map((n) => findModel(n, source) as CatalogModel)
  return found.filter((m, i) => found.indexOf(m) === i)
}
