/**
 * One home per default: the default model list lives in space/models.json (default_models) and
 * nowhere else in the code, the action metadata or the workflows — everything else asks the catalog.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { catalog, defaultModelNames, modelsOrDefaults } from '../../src/catalog.js'

const root = new URL('../../', import.meta.url).pathname
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The default names in their order, with any separators between them: a restated default list. */
function restatesDefaults(text: string, names: string[]): boolean {
  return new RegExp(names.map(escapeRegExp).join(`['"\\s,]+`)).test(text)
}

describe('default models', () => {
  it('come from space/models.json', () => {
    expect(defaultModelNames()).toEqual(catalog.default_models)
    expect(modelsOrDefaults('').map((m) => m.name)).toEqual(catalog.default_models)
    expect(modelsOrDefaults('  ').map((m) => m.name)).toEqual(catalog.default_models)
    expect(modelsOrDefaults('phi3').map((m) => m.name)).toEqual(['phi3'])
  })

  it('are restated nowhere else: code, action.yml files, workflows, scripts', () => {
    const files = execFileSync('git', ['ls-files', 'src', 'scripts', 'bin', 'actions', '.github'], {
      cwd: root,
      encoding: 'utf8',
    })
      .split('\n')
      .filter((f) => /\.(ts|mjs|js|yml|yaml)$/.test(f) && !f.includes('/dist/'))
    expect(files.length).toBeGreaterThan(20)
    const offenders = files.filter((f) => restatesDefaults(readFileSync(`${root}${f}`, 'utf8'), catalog.default_models))
    expect(offenders).toEqual([])
  })

  it('workflows leave the Railway names to action.yml (no restated fallback)', () => {
    const workflows = execFileSync('git', ['ls-files', '.github/workflows'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
    const fallback = /\|\|\s*'(production|cognitia|ollama|project|OLLAMA_BASE_URL)'/
    expect(workflows.filter((f) => fallback.test(readFileSync(`${root}${f}`, 'utf8')))).toEqual([])
  })

  it('the scan recognises a restated list in its usual spellings', () => {
    const names = ['qwen2.5:7b', 'phi3', 'codellama:7b']
    expect(restatesDefaults(`default: "qwen2.5:7b, phi3, codellama:7b"`, names)).toBe(true)
    expect(restatesDefaults(`|| 'qwen2.5:7b,phi3,codellama:7b'`, names)).toBe(true)
    expect(restatesDefaults(`['qwen2.5:7b', 'phi3', 'codellama:7b']`, names)).toBe(true)
    expect(restatesDefaults(`models: "qwen2.5:7b, gemma2:9b"`, names)).toBe(false)
  })
})
