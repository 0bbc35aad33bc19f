// A step with the upload throttled to 1 MB/s: the progress bar moves while the bytes go out, never back, and
// ends at 100 %; an upload cancelled half way says so and can be removed.
import { join } from 'node:path';

import { assert, assertEqual, check } from '../lib/checks.mjs';
import { card, waitForState } from '../lib/browser.mjs';
import { BIG_FILE, CANCELLED_FILE } from '../lib/fixtures.mjs';
import { screenshot } from '../lib/screenshots.mjs';

export async function progressSteps(run) {
  const { context, page, artifacts } = run;

  await check('progress is shown while the bytes go out, and an upload can be cancelled (throttled to 1 MB/s)', async () => {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 1024 * 1024,
    });
    try {
      // Records every value the card's progress bar takes.
      await page.evaluate((name) => {
        window.progressSeen = [];
        const observer = new MutationObserver(() => {
          for (const card of document.querySelectorAll('[data-testid="file-card"]')) {
            if (card.querySelector('[data-testid="file-name"]').textContent !== name) continue;
            const value = card.querySelector('[data-testid="progress"]').value;
            const text = card.querySelector('[data-testid="progress-text"]').textContent;
            const last = window.progressSeen[window.progressSeen.length - 1];
            if (!last || last.value !== value) window.progressSeen.push({ value, text });
          }
        });
        observer.observe(document.getElementById('files'), { subtree: true, childList: true, characterData: true });
      }, BIG_FILE);
      const bytes = Buffer.alloc(2_500_000, 7);
      await page.getByTestId('file-input').setInputFiles({ name: BIG_FILE, mimeType: 'application/octet-stream', buffer: bytes });
      const item = card(page, BIG_FILE);
      await page.waitForFunction(() => (window.progressSeen || []).some((p) => p.value >= 25 && p.value < 90));
      await item.scrollIntoViewIfNeeded();
      await screenshot(page, join(artifacts, 'page-progress.png'));
      await waitForState(item, 'done');
      const seen = await page.evaluate(() => window.progressSeen);
      const values = seen.map((p) => p.value);
      assert(values.some((v) => v > 0 && v < 100), `intermediate progress: ${values.join(', ')}`);
      assert(values.every((v, i) => i === 0 || v >= values[i - 1]), `progress never goes back: ${values.join(', ')}`);
      assertEqual(values[values.length - 1], 100, 'final progress');
      const middle = seen.find((p) => p.value > 0 && p.value < 100);
      assert(/^[\d.,]+ (B|KB|MB) \/ 2\.4 MB · \d+%$/.test(middle.text), `bytes and percent: ${middle.text}`);

      // Cancelling half way stops the request and says so; the file can be sent again.
      await page.getByTestId('file-input').setInputFiles({ name: CANCELLED_FILE, mimeType: 'application/octet-stream', buffer: bytes });
      const cancelled = card(page, CANCELLED_FILE);
      await cancelled.locator('progress').evaluate(
        (node) => new Promise((done) => {
          const poll = () => (node.value >= 5 ? done() : setTimeout(poll, 20));
          poll();
        }),
      );
      await cancelled.getByTestId('cancel').click();
      await waitForState(cancelled, 'error');
      assertEqual(await cancelled.getByTestId('error-code').textContent(), 'ABORTED', 'cancelled');
      await cancelled.getByTestId('retry').waitFor();
      await cancelled.getByTestId('remove').click();
      assertEqual(await cancelled.count(), 0, 'card removed');
    } finally {
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await cdp.detach();
    }
  });
}
