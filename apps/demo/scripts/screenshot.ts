// Takes docs/dashboard.png: starts the demo, lets the background traffic run for a few
// seconds (so rates and events show), opens the dashboard in Debian's headless chromium
// (playwright-core, no browser download) and saves a screenshot, then stops everything.
//
//   npm run screenshot -w @foundation-apps/demo          (CHROMIUM=/path/to/chromium to override)
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { killGroup, startDemo } from '../src/demo-process';

const appDirectory = fileURLToPath(new URL('..', import.meta.url));
const target = fileURLToPath(new URL('../docs/dashboard.png', import.meta.url));
const SETTLE_MS = Number(process.env.SCREENSHOT_SETTLE_MS ?? 8000);

const demo = await startDemo({ appDirectory, args: ['--restart-delay', '4'] });
process.on('exit', () => killGroup(demo.child));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'], headless: true });
try {
  console.log(`demo ready in ${(demo.ready.readyInMs / 1000).toFixed(1)} s; dashboard ${demo.ready.dashboardUrl}`);
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(demo.ready.dashboardUrl);
  await page.locator('#nodes tr[data-state="up"]').nth(4).waitFor({ timeout: 30_000 });
  await page.waitForTimeout(SETTLE_MS);
  await page.locator('#nodes tr[data-state="up"]').nth(4).waitFor({ timeout: 30_000 });
  await page.screenshot({ path: target, fullPage: true });
  console.log(`wrote ${target} (${Math.round(statSync(target).size / 1024)} KB)`);
} finally {
  await browser.close();
  await demo.stop();
}
