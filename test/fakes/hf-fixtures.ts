/** Throw-away Space folders for tests of src/hf. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

export const gradioReadme = `---
title: zerollama
emoji: 🦙
sdk: gradio
sdk_version: 6.31.0
python_version: "3.12"
app_file: app.py
tags:
  - ollama
  - zerogpu
---

# zerollama

Ollama API on ZeroGPU.
`

/** A small Gradio Space: text files, one binary file (stored with LFS), and clutter that must not upload. */
export const fixtureFiles: Record<string, string | Buffer> = {
  'README.md': gradioReadme,
  'app.py': 'import gradio as gr\n\ndemo = gr.Blocks()\ndemo.launch()\n',
  'requirements.txt': 'transformers==5.23.0\n',
  'zerollama/__init__.py': '',
  'zerollama/server.py': 'def serve():\n    return "Ollama is running"\n',
  'assets/logo.bin': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x02, 0x03]),
  Dockerfile: 'FROM ollama/ollama:0.12.0\nEXPOSE 11434\n',
  'zerollama/__pycache__/server.cpython-312.pyc': Buffer.from([0, 1, 2]),
  '.env': 'SECRET=do-not-upload\n',
  '.venv/bin/python': 'not uploaded',
}

export async function makeSpaceFolder(files: Record<string, string | Buffer> = fixtureFiles): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'hf-space-'))
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(folder, path)), { recursive: true })
    await writeFile(join(folder, path), content)
  }
  return folder
}

export async function removeFolder(folder: string): Promise<void> {
  await rm(folder, { recursive: true, force: true })
}
