/**
 * Reads an NDJSON body (one JSON object per `\n`-terminated line) as it arrives. Network packets split
 * lines anywhere, multi-byte UTF-8 characters included, so bytes are decoded in streaming mode and a
 * line is parsed only once its newline has arrived. Blank lines are skipped, as ollama-js does.
 */
export async function* readNdjson(body: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const bytes of body) {
    buffered += decoder.decode(bytes, { stream: true })
    let newline = buffered.indexOf('\n')
    while (newline >= 0) {
      const line = buffered.slice(0, newline).trim()
      buffered = buffered.slice(newline + 1)
      if (line) yield parseLine(line)
      newline = buffered.indexOf('\n')
    }
  }
  const rest = (buffered + decoder.decode()).trim()
  if (rest) yield parseLine(rest)
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line)
  } catch {
    throw new SyntaxError(`malformed NDJSON line from the server: ${line.slice(0, 200)}`)
  }
}
