import { describe, expect, it } from 'vitest'
import { readNdjson } from '../../src/ollama/ndjson.js'

async function* packets(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield typeof part === 'string' ? new TextEncoder().encode(part) : part
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<unknown[]> {
  const out: unknown[] = []
  for await (const value of readNdjson(body)) out.push(value)
  return out
}

describe('readNdjson', () => {
  it('parses one object per line when each packet holds whole lines', async () => {
    expect(await collect(packets('{"a":1}\n{"a":2}\n'))).toEqual([{ a: 1 }, { a: 2 }])
  })

  it('joins a line split across packets, including inside a multi-byte character', async () => {
    const bytes = new TextEncoder().encode('{"response":"ñandú"}\n{"done":true}\n')
    const cut = bytes.indexOf(0xc3) + 1 // between the two bytes of "ñ"
    expect(
      await collect(packets(bytes.subarray(0, cut), bytes.subarray(cut, cut + 3), bytes.subarray(cut + 3))),
    ).toEqual([{ response: 'ñandú' }, { done: true }])
  })

  it('yields every line however the stream is chopped, byte by byte included', async () => {
    const text =
      '{"status":"pulling manifest"}\n{"status":"pulling x","total":10,"completed":5}\n{"status":"success"}\n'
    const bytes = new TextEncoder().encode(text)
    const single = [...bytes].map((b) => new Uint8Array([b]))
    expect(await collect(packets(...single))).toEqual([
      { status: 'pulling manifest' },
      { status: 'pulling x', total: 10, completed: 5 },
      { status: 'success' },
    ])
  })

  it('skips blank lines and parses a last line without newline', async () => {
    expect(await collect(packets('{"a":1}\n\n  \n', '{"a":2}'))).toEqual([{ a: 1 }, { a: 2 }])
  })

  it('throws a readable error on a malformed line', async () => {
    await expect(collect(packets('{"a":1}\nnot json\n'))).rejects.toThrow(/malformed NDJSON line.*not json/)
  })
})
