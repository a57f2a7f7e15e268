/** How the terminal shows what an action printed for the runner, and its job summary. */

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as core from '@actions/core'
import { describe, expect, it } from 'vitest'
import { actionOutputRenderer, findLeaks, formatTable, renderActionOutput } from '../../src/cli/render.js'
import { summaryToText } from '../../src/cli/summary-text.js'

describe('renderActionOutput', () => {
  it('turns workflow commands into plain lines and never prints a masked value', () => {
    const stdout = [
      '::add-mask::hf_secret123',
      '::group::Pull qwen2.5:7b',
      'progress 50%',
      '::endgroup::',
      '::notice::3 checks passed',
      '::warning title=x::slow%0Asecond line',
      '::error::token hf_secret123 refused',
      '::debug::internal',
    ].join('\n')
    expect(renderActionOutput(stdout, ['hf_secret123'], '')).toEqual([
      '▶ Pull qwen2.5:7b',
      'progress 50%',
      '✓ 3 checks passed',
      '⚠ slow\nsecond line',
      '✗ token *** refused',
    ])
  })

  it('hides what the action masked from the add-mask line on, in every encoding, as the runner does', () => {
    const secret = 'p@ss/word'
    const render = actionOutputRenderer([], '')
    expect(render(`before ${secret}\n::add-mask::${secret}`)).toEqual([`before ${secret}`])
    expect(render(`after ${secret} and ${encodeURIComponent(secret)}\nproduction stays`)).toEqual([
      'after *** and ***',
      'production stays',
    ])
  })

  it('finds which transcript holds a secret, without repeating the secret', () => {
    expect(findLeaks({ a: 'clean', b: 'has hf_x1 inside' }, ['hf_x1', ''])).toEqual(['b'])
    expect(findLeaks({ a: 'clean' }, ['hf_x1'])).toEqual([])
  })
})

describe('summaryToText', () => {
  it('renders the tables @actions/core writes as aligned text', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'summary-'))
    const file = join(dir, 'summary.md')
    await writeFile(file, '')
    process.env.GITHUB_STEP_SUMMARY = file
    try {
      await core.summary
        .emptyBuffer()
        .addHeading('Validate — passed', 2)
        .addTable([
          [
            { data: 'Check', header: true },
            { data: 'Observed', header: true },
          ],
          ['TTFT qwen2.5:7b', '412 ms'],
          ['Tokens/s', '61.0 & rising'],
        ])
        .addRaw('JSON report: r.json', true)
        .write({ overwrite: true })
      const text = summaryToText(await readFile(file, 'utf8'))
      expect(text).toContain('## Validate — passed')
      expect(text).toContain(
        formatTable(
          ['Check', 'Observed'],
          [
            ['TTFT qwen2.5:7b', '412 ms'],
            ['Tokens/s', '61.0 & rising'],
          ],
        ),
      )
      expect(text).toContain('JSON report: r.json')
      expect(text).not.toMatch(/<t[dhr]>/)
    } finally {
      delete process.env.GITHUB_STEP_SUMMARY
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('formats multi-line cells row by row', () => {
    expect(formatTable(['a', 'b'], [['x', '1\n2']])).toBe('a  b\n─  ─\nx  1\n   2')
  })
})
