/**
 * The only way domain code talks to the operator. Actions pass an adapter over @actions/core;
 * the CLI and the rehearsal pass a console adapter; tests pass a recorder. Keeping @actions/core
 * out of src/ lets the same code run in all three.
 */
export interface Logger {
  info(message: string): void
  warning(message: string): void
  debug(message: string): void
  /** Runs `fn` inside a collapsible section (a `core.group` in Actions). */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>
}

/** A logger that prints plain lines to stdout/stderr; used by the CLI and the rehearsal. */
export function consoleLogger(prefix = ''): Logger {
  return {
    info: (m) => console.log(`${prefix}${m}`),
    warning: (m) => console.warn(`${prefix}warning: ${m}`),
    debug: (m) => {
      if (process.env.ZEROLLAMA_DEBUG) console.log(`${prefix}debug: ${m}`)
    },
    group: async (name, fn) => {
      console.log(`${prefix}▶ ${name}`)
      return fn()
    },
  }
}

/** A logger that keeps every line, for tests that assert what an operator would see. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = []
  return {
    lines,
    info: (m) => lines.push(m),
    warning: (m) => lines.push(`warning: ${m}`),
    debug: (m) => lines.push(`debug: ${m}`),
    group: async (name, fn) => {
      lines.push(`group: ${name}`)
      return fn()
    },
  }
}
