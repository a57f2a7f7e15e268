/**
 * space/models.json and space/costs.json against their JSON Schemas (space/schemas/), and the bad documents of
 * test/fixtures/schema-cases.json against the same schemas: each must be refused. The Python suite
 * (space/tests/test_schemas.py) checks the same files and cases with jsonschema.
 */
import { readFileSync } from 'node:fs'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { describe, expect, it } from 'vitest'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

interface SchemaCase {
  file: 'models' | 'costs'
  why: string
  path: (string | number)[]
  value?: Json
  delete?: boolean
}

const read = (path: string): Json => JSON.parse(readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8'))
const { cases } = read('test/fixtures/schema-cases.json') as unknown as { cases: SchemaCase[] }

function validator(file: SchemaCase['file']) {
  return new Ajv2020({ allErrors: true, strict: true }).compile(read(`space/schemas/${file}.schema.json`) as object)
}

/** `document` with the case's one change: `value` set at `path`, or the field at `path` deleted. */
function changed(document: Json, { path, value, delete: remove }: SchemaCase): Json {
  const result = structuredClone(document)
  const parents = path.slice(0, -1)
  const last = path.at(-1) as string | number
  const target = parents.reduce((node, key) => (node as Record<string | number, Json>)[key] as Json, result) as Record<
    string | number,
    Json
  >
  if (remove) delete target[last]
  else target[last] = value ?? null
  return result
}

describe('the data files and their JSON Schemas', () => {
  it.each(['models', 'costs'] as const)('space/%s.json matches its schema', (file) => {
    const validate = validator(file)
    expect(validate(read(`space/${file}.json`)), JSON.stringify(validate.errors)).toBe(true)
  })

  it.each(cases.map((c) => [`${c.file}: ${c.why}`, c] as const))('refuses %s', (_, schemaCase) => {
    const validate = validator(schemaCase.file)
    const document = read(`space/${schemaCase.file}.json`)
    expect(validate(document)).toBe(true)
    expect(validate(changed(document, schemaCase))).toBe(false)
  })
})
