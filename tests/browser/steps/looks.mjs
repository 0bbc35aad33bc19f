// Steps about how the page looks: screenshots after the uploads, light and dark; and a phone-sized screen
// that must not scroll sideways.
import { join } from 'node:path';

import { assert, check } from '../lib/checks.mjs';
import { card, waitForImage, waitForState } from '../lib/browser.mjs';
import { KOREAN_PNG, image } from '../lib/fixtures.mjs';

export async function afterUploadSteps(run) {
  const { page, artifacts } = run;

  await check('screenshot of the page after the uploads', async () => {
    await card(page, KOREAN_PNG).scrollIntoViewIfNeeded();
    await page.evaluate(() => {
      document.activeElement?.blur();
      window.scrollTo(0, 0);
    });
    await page.screenshot({ path: join(artifacts, 'page.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(artifacts, 'page-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
  });
}

export async function phoneSteps(run) {
  const { context, base, artifacts } = run;

  await check('phone-sized screen: no horizontal scrolling', async () => {
    const phone = await context.newPage();
    run.watch(phone);
    await phone.setViewportSize({ width: 375, height: 740 });
    await phone.goto(`${base}/`);
    await phone.locator('html[data-ready="true"]').waitFor();
    await phone.getByTestId('file-input').setInputFiles({ name: KOREAN_PNG, mimeType: 'image/png', buffer: image });
    await waitForState(card(phone, KOREAN_PNG), 'done');
    await waitForImage(card(phone, KOREAN_PNG).getByTestId('result-img'));
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `page is ${overflow}px wider than the screen`);
    await phone.screenshot({ path: join(artifacts, 'page-phone.png'), fullPage: true });
    await phone.close();
  });
}
