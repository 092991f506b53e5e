import { mkdir } from 'node:fs/promises'
import { chromium, type Browser, type Page } from 'playwright-core'

/** Where page screenshots go (git-ignored); CI keeps them as artifacts. */
export const SCREENSHOT_DIR = new URL('../../test-artifacts/console/', import.meta.url).pathname

/**
 * Debian's Chromium (installed with apt-get; the browser cannot be downloaded here), headless,
 * with everything that would phone home switched off.
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true })
  await page.screenshot({ path: `${SCREENSHOT_DIR}${name}.png`, fullPage: false })
}
