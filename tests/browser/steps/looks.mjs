// Steps about how the page looks: screenshots after the uploads, light and dark, checked against the DOM at
// that moment; and a phone-sized screen that must not scroll sideways.
import { join } from 'node:path';

import { assert, assertEqual, check } from '../lib/checks.mjs';
import { card, waitForImage, waitForState } from '../lib/browser.mjs';
import { DROPPED_PNG, IMAGE_SIZE, KEYBOARD_PNG, KOREAN_PNG, KOREAN_TXT, image } from '../lib/fixtures.mjs';
import { pictureColour } from '../lib/png.mjs';
import { assertColour, parseRgb, screenshot } from '../lib/screenshots.mjs';

/** What the page shows now: where it is scrolled, whether something has focus, its cards, its background. */
function pageState(page) {
  return page.evaluate(() => ({
    scrollY: window.scrollY,
    focused: document.activeElement && document.activeElement !== document.body ? document.activeElement.outerHTML.slice(0, 80) : null,
    dark: window.matchMedia('(prefers-color-scheme: dark)').matches,
    background: getComputedStyle(document.body).backgroundColor,
    cards: Array.from(document.querySelectorAll('[data-testid="file-card"]'), (node) => ({
      name: node.querySelector('[data-testid="file-name"]').textContent,
      state: node.dataset.state,
      image: node.dataset.image || null,
    })),
  }));
}

/**
 * Fails unless the screenshot shows the first uploaded picture where the DOM puts its <img>: the colours of
 * the picture at its centre and at the centre of its left circle.
 */
async function assertShowsPicture(page, shot, what) {
  const box = await card(page, KOREAN_PNG).getByTestId('result-img').evaluate((node) => {
    const rect = node.getBoundingClientRect();
    return { left: rect.left + window.scrollX, top: rect.top + window.scrollY, width: rect.width, height: rect.height };
  });
  const { width, height } = IMAGE_SIZE;
  const ratio = box.width / box.height;
  assert(Math.abs(ratio - width / height) < 0.02, `${what}: the picture keeps its shape (${box.width}x${box.height})`);
  for (const [fx, fy, where] of [[0.5, 0.5, 'centre'], [0.3, 0.45, 'left circle']]) {
    const x = Math.round(box.left + fx * box.width);
    const y = Math.round(box.top + fy * box.height);
    const expected = pictureColour(Math.round(fx * width), Math.round(fy * height), width, height);
    assertColour(shot.pixel(x, y), expected, 8, `${what}: the picture's ${where} at (${x}, ${y})`);
  }
}

export async function afterUploadSteps(run) {
  const { page, artifacts } = run;

  await check('screenshot of the page after the uploads', async () => {
    await card(page, KOREAN_PNG).scrollIntoViewIfNeeded();
    await page.evaluate(() => {
      document.activeElement?.blur();
      window.scrollTo(0, 0);
    });
    // What the screenshots are of: the four files stored (newest first), the three pictures loaded, the top
    // of the page, and no focus ring.
    const light = await pageState(page);
    assertEqual(light.scrollY, 0, 'scrolled to the top');
    assertEqual(light.focused, null, 'nothing focused');
    assertEqual(light.dark, false, 'light colours');
    assertEqual(JSON.stringify(light.cards), JSON.stringify([
      { name: DROPPED_PNG, state: 'done', image: 'loaded' },
      { name: KEYBOARD_PNG, state: 'done', image: 'loaded' },
      { name: KOREAN_TXT, state: 'done', image: null },
      { name: KOREAN_PNG, state: 'done', image: 'loaded' },
    ]), 'the cards shown');
    const shot = await screenshot(page, join(artifacts, 'page.png'), { fullPage: true });
    await assertShowsPicture(page, shot, 'page.png');

    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await pageState(page);
    assertEqual(dark.dark, true, 'dark colours');
    assert(dark.background !== light.background, `the dark background differs from the light one: ${dark.background}`);
    assertEqual(JSON.stringify(dark.cards), JSON.stringify(light.cards), 'the same cards in the dark');
    const darkShot = await screenshot(page, join(artifacts, 'page-dark.png'), { fullPage: true });
    await assertShowsPicture(page, darkShot, 'page-dark.png');
    assertColour(darkShot.pixel(2, 2), parseRgb(dark.background), 2, 'page-dark.png: the dark background');

    await page.emulateMedia({ colorScheme: 'light' });
    assertEqual((await pageState(page)).dark, false, 'light colours again');
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
    const shot = await screenshot(phone, join(artifacts, 'page-phone.png'), { fullPage: true });
    assertEqual(shot.width, 375, 'page-phone.png is as wide as the screen');
    await assertShowsPicture(phone, shot, 'page-phone.png');
    await phone.close();
  });
}
