/**
 * The Space's page (space/zerollama/ui.py) in headless Chromium, served by the real server on CPU with the
 * tiny demo models: the table shows the catalog's curated models with the COP figures of
 * /api/zerollama/catalog, and the playground answers through the server's generation path.
 * Uses Debian's chromium (apt-get install chromium); skipped only when it is missing and
 * ZEROLLAMA_REQUIRE_BROWSER is unset (.ci/run sets it, so CI fails instead of skipping).
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error: a plain .mjs helper without type declarations
import { startSpaceServer } from '../../scripts/lib/space-server.mjs'
import { fetchZerollamaCatalog, formatCop, type ZerollamaCatalog } from '../../src/zerollama-catalog.js'

const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOT = join('artifacts', 'page.png')
const browserPresent = existsSync(CHROMIUM)
const browserRequired = Boolean(process.env.ZEROLLAMA_REQUIRE_BROWSER)
if (!browserPresent && !browserRequired) {
  console.warn(
    `page test skipped: ${CHROMIUM} is missing (apt-get install chromium); set ZEROLLAMA_REQUIRE_BROWSER=1 to fail instead`,
  )
}

let server: { url: string; stop(): Promise<void> }
let context: BrowserContext
let page: Page
let profile: string
let catalog: ZerollamaCatalog

describe.skipIf(!browserPresent && !browserRequired)('the Space page in headless Chromium', () => {
  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `ZEROLLAMA_REQUIRE_BROWSER is set but ${CHROMIUM} is missing`).toBe(true)
    // Short replies keep the playground step quick on a CPU (the page caps replies at 256 tokens anyway).
    server = await startSpaceServer({ port: 0, env: { ZEROLLAMA_MAX_PREDICT: '24' } })
    catalog = await fetchZerollamaCatalog(server.url)
    profile = await mkdtemp(join(tmpdir(), 'zerollama-chromium-'))
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 1000 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
    page = context.pages()[0] ?? (await context.newPage())
    await page.goto(`${server.url}/`, { waitUntil: 'domcontentloaded' })
    await page.waitForSelector('#zerollama-models tbody tr', { timeout: 60_000 })
  }, 240_000)

  afterAll(async () => {
    await context?.close()
    await server?.stop()
    if (profile) await rm(profile, { recursive: true, force: true })
  })

  it('lists the curated models in display order with the catalog COP figures', async () => {
    const rows = page.locator('#zerollama-models tbody tr')
    expect(await rows.count()).toBe(catalog.models.length)
    for (const [index, model] of catalog.models.entries()) {
      const row = rows.nth(index)
      const cost = model.cost
      if (!cost) throw new Error(`${model.name} has no cost figures in the catalog`)
      expect(await row.locator('td').first().textContent()).toBe(model.name)
      const figures = await row
        .locator('td[data-cop]')
        .evaluateAll((cells) => cells.map((c) => c.getAttribute('data-cop')))
      expect(figures.map(Number)).toEqual([
        cost.per_1k_tokens_cop,
        cost.over_quota_per_1k_tokens_cop ?? 0,
        cost.typical_reply_cop,
      ])
      const text = (await row.textContent()) ?? ''
      expect(text).toContain(formatCop(cost.typical_reply_cop))
      expect(text).toContain(model.purpose)
    }
    const excluded = (await page.locator('#zerollama-table').textContent()) ?? ''
    for (const entry of catalog.excluded) expect(excluded).toContain(entry.name)
  })

  it('shows the pricing basis, the quota and a Cognitia snippet with this server as base URL', async () => {
    const body = (await page.locator('body').textContent()) ?? ''
    expect(body).toContain(`1 USD = ${formatCop(catalog.usd_cop)}`)
    expect(await page.locator('#zerollama-quota').textContent()).toMatch(/quota/i)
    const snippet = (await page.locator('#zerollama-api').textContent()) ?? ''
    expect(snippet).toContain(`OLLAMA_BASE_URL=${new URL(server.url).origin}`)
  })

  it('answers in the playground with a demo model, then shows its measured speed', async () => {
    const model = catalog.models[0]?.name ?? ''
    await page.locator('#zerollama-prompt textarea').fill('Hola, ¿qué modelos hay?')
    await page.locator('#zerollama-send').click()
    const bot = page.locator('#zerollama-chat [data-testid="bot"]').first()
    await expect
      .poll(async () => ((await bot.textContent()) ?? '').trim().length, { timeout: 90_000 })
      .toBeGreaterThan(0)
    const row = page.locator('#zerollama-models tbody tr').filter({ hasText: model }).first()
    await expect
      .poll(async () => (await row.locator('td').last().textContent()) ?? '', { timeout: 30_000 })
      .toBe('measured')
    await mkdir('artifacts', { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    expect(existsSync(SCREENSHOT)).toBe(true)
  }, 150_000)
})
