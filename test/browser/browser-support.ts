import { mkdir } from 'node:fs/promises'
import { chromium, type Browser, type Page } from 'playwright-core'
import { expect } from 'vitest'

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

/** A PNG of the viewport under `dir` (default: the console's folder of test-artifacts/). */
export async function screenshot(page: Page, name: string, dir = SCREENSHOT_DIR): Promise<void> {
  await mkdir(dir, { recursive: true })
  await page.screenshot({ path: `${dir}${name}.png`, fullPage: false })
}

/**
 * An accessible console, correct at 1280×800: nothing wider than the viewport
 * (no sideways scrolling), a document language, and a label (or aria-label) on every form control
 * a person fills in or presses.
 */
export async function expectUsableOnLaptop(page: Page): Promise<void> {
  // A string, not a function: the test tsconfig has no DOM types (this runs in the page).
  const facts = (await page.evaluate(`({
    scrollWidth: document.documentElement.scrollWidth,
    viewportWidth: window.innerWidth,
    lang: document.documentElement.lang,
    unlabelled: [...document.querySelectorAll('input, select, button')]
      .filter((control) => control.type !== 'hidden')
      .filter((control) => (control.labels?.length ?? 0) === 0 && !control.getAttribute('aria-label') && !(control.textContent ?? '').trim())
      .map((control) => control.outerHTML.slice(0, 80)),
  })`)) as { scrollWidth: number; viewportWidth: number; lang: string; unlabelled: string[] }
  expect(facts.scrollWidth, `${page.url()} scrolls sideways at ${facts.viewportWidth}px`).toBeLessThanOrEqual(facts.viewportWidth)
  expect(facts.lang, `${page.url()} has no lang`).not.toBe('')
  expect(facts.unlabelled, `${page.url()} has unlabelled controls`).toEqual([])
}
