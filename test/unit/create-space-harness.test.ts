/** The bundle-running harness (test/support/run-action.ts) that every dist e2e test relies on. */
import { describe, expect, it } from 'vitest'
import { inputVariable, parseInputDefaults, parseOutputFile } from '../support/run-action.js'

describe('run-action harness', () => {
  it('applies action.yml defaults in block, flow, quoted and block-scalar forms', () => {
    const yml = [
      'name: x',
      'inputs:',
      "  space: { description: 'owner/name', required: true }",
      "  dry-run: { description: 'Plan only, no: changes', required: false, default: 'false' }",
      '  private:',
      '    description: "a: b"',
      '    default: true   # a comment',
      '  quoted: { default: "a, b", description: x }',
      "  apostrophe: { default: 'it''s' }",
      '  variables:',
      '    default: |',
      '      A=1',
      '      B=2',
      '    description: |',
      '      default: not this',
      'outputs:',
      '  ignored: { description: y, default: z }',
    ].join('\n')
    expect(parseInputDefaults(yml)).toEqual({
      'dry-run': 'false',
      private: 'true',
      quoted: 'a, b',
      apostrophe: "it's",
      variables: 'A=1\nB=2',
    })
  })

  it('reads the real create-space defaults', async () => {
    const { readFile } = await import('node:fs/promises')
    const defaults = parseInputDefaults(
      await readFile(new URL('../../actions/create-space/action.yml', import.meta.url), 'utf8'),
    )
    expect(defaults).toMatchObject({ private: 'true', runtime: 'zerogpu', hardware: 'zero-a10g', 'dry-run': 'false' })
    expect(defaults).not.toHaveProperty('space')
  })

  it('parses heredoc and plain outputs, multi-line and empty values', () => {
    const file =
      'a<<ghadelimiter_1\nline 1\nline 2\nghadelimiter_1\nempty<<ghadelimiter_2\n\nghadelimiter_2\nplain=x=y\n'
    expect(parseOutputFile(file)).toEqual({ a: 'line 1\nline 2', empty: '', plain: 'x=y' })
    expect(() => parseOutputFile('a<<EOF\nnever closed\n')).toThrow(/no closing delimiter/)
  })

  it('names INPUT_ variables as the runner does (hyphens kept)', () => {
    expect(inputVariable('hf-token')).toBe('INPUT_HF-TOKEN')
    expect(inputVariable('wait timeout')).toBe('INPUT_WAIT_TIMEOUT')
  })
})
