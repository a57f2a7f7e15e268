/** The repository's own space/ folder, read exactly as create-space will upload it. */
import { describe, expect, it } from 'vitest'
import { frontMatterValue, readSpaceFolder } from '../../src/hf/space-files.js'

const spaceFolder = new URL('../../space', import.meta.url).pathname

describe('the real space/ folder', () => {
  it('uploads for the docker runtime with the Docker README, the Dockerfile and the catalog, and no tests', async () => {
    const files = await readSpaceFolder(spaceFolder, 'docker')
    const paths = files.map((file) => file.path)
    expect(paths).toEqual(expect.arrayContaining(['README.md', 'Dockerfile', 'models.json', 'docker/entrypoint.sh']))
    expect(paths.filter((path) => path.startsWith('tests/') || path.includes('__pycache__'))).toEqual([])
    const readme = files.find((file) => file.path === 'README.md')?.content.toString() ?? ''
    expect(frontMatterValue(readme, 'sdk')).toBe('docker')
    expect(frontMatterValue(readme, 'app_port')).toBe('7860')
  })
})
