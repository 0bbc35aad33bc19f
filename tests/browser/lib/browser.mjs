// The system's headless Chromium for the browser test, held to loopback: every host name resolves to nothing,
// and any request the page makes off 127.0.0.1 is aborted and recorded (the last step fails if there was one).
// Also the helpers the steps share to find a file's card and wait for what it shows.
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

/**
 * Starts Chromium with its profile in `profile`. Returns its context, the first page, and the lists the last
 * step checks: requests made off loopback, and errors the watched pages reported.
 */
export async function launch(profile) {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      '--disable-default-apps',
      '--disable-domain-reliability',
      '--disable-client-side-phishing-detection',
      '--no-pings',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
    viewport: { width: 1100, height: 900 },
    locale: 'ko-KR',
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  context.setDefaultTimeout(15_000);

  // Anything but loopback (and the page's own data:/blob: URLs) is refused and reported.
  const offHost = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (['data:', 'blob:'].includes(url.protocol) || url.hostname === '127.0.0.1') return route.continue();
    offHost.push(url.href);
    return route.abort('blockedbyclient');
  });

  const pageErrors = [];
  /** Records the page's script errors and console errors. */
  const watch = (page) => {
    page.on('pageerror', (error) => pageErrors.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // A failed upload answers 4xx on purpose, and a broken URL is tested on purpose; Chromium logs both.
      const text = message.text();
      if (message.type() === 'error' && !/Failed to load resource/.test(text)) pageErrors.push(`console: ${text}`);
    });
  };

  const page = context.pages()[0] || (await context.newPage());
  watch(page);
  return { context, page, watch, offHost, pageErrors, nextFileChooser: interceptFileChoosers(page) };
}

/**
 * File choosers are intercepted from the start (turning interception on only when waiting for one races with
 * the key press that opens it). Returns a function that waits for the next one.
 */
function interceptFileChoosers(page) {
  const fileChoosers = [];
  page.on('filechooser', (chooser) => fileChoosers.push(chooser));
  return async () => {
    const deadline = Date.now() + 15_000;
    while (fileChoosers.length === 0) {
      if (Date.now() > deadline) throw new Error('no file chooser opened');
      await new Promise((done) => setTimeout(done, 50));
    }
    return fileChoosers.shift();
  };
}

/** The card of the file named `name`. */
export const card = (p, name) => p.locator('[data-testid="file-card"]', { has: p.locator('[data-testid="file-name"]', { hasText: name }) });

export async function waitForState(locator, state) {
  await locator.and(locator.page().locator(`[data-state="${state}"]`)).waitFor();
}

/** Waits until the <img> has decoded a real picture. */
export async function waitForImage(img) {
  await img.waitFor();
  await img.evaluate(
    (node) => new Promise((done, fail) => {
      const ready = () => (node.naturalWidth > 0 ? done() : fail(new Error(`image failed: ${node.src}`)));
      if (node.complete) ready();
      else {
        node.addEventListener('load', ready, { once: true });
        node.addEventListener('error', () => fail(new Error(`image failed: ${node.src}`)), { once: true });
      }
    }),
  );
  return img.evaluate((node) => ({ width: node.naturalWidth, height: node.naturalHeight, src: node.src }));
}
