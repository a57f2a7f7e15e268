/** The model-name rule the Space uses, held to the fixture its Python tests read too. */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { findModel, normaliseName } from '../../src/catalog.js'

interface NameCase {
  name: string
  normalised: string
}

const fixture = new URL('../fixtures/model-names.json', import.meta.url)
const { cases } = JSON.parse(readFileSync(fixture, 'utf8')) as { cases: NameCase[] }

describe('model names', () => {
  it.each(cases)('normalises $name as the Space does', ({ name, normalised }) => {
    expect(normaliseName(name)).toBe(normalised)
  })

  it('finds a catalog model under every spelling Ollama accepts', () => {
    for (const spelling of ['phi3', 'PHI3:Latest', 'library/phi3', 'registry.ollama.ai/library/phi3:latest']) {
      expect(findModel(spelling)?.name).toBe('phi3')
    }
  })
})
