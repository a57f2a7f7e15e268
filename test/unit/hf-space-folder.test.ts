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

  it('uploads the server package for ZeroGPU without its tests or the demo package', async () => {
    const paths = (await readSpaceFolder(spaceFolder, 'gradio')).map((file) => file.path)
    expect(paths).toEqual(
      expect.arrayContaining(['README.md', 'app.py', 'zerollama/server.py', 'zerollama/settings.py']),
    )
    expect(paths.filter((path) => path.startsWith('tests/') || path.startsWith('zerollama/demo/'))).toEqual([])
  })
})
