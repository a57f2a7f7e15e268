#!/usr/bin/env node
// `npx zerollama`: runs the TypeScript CLI (src/cli) through tsx, so it is always the current source
// of the same domain code and actions the workflows use; there is no second bundle to keep in sync.
// The npm packages come from `npm install` (or `npm start`/`npm test`, which install what is missing).
import { tsImport } from 'tsx/esm/api'

await tsImport('../src/cli/index.ts', import.meta.url)
