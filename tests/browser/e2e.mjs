// End-to-end test of the upload page in the system's headless Chromium, driven by playwright-core.
//
//   node tests/browser/e2e.mjs <base-url> <small-limits-base-url>
//
// <base-url> is a running server with default limits; <small-limits-base-url> one started with
// MAX_FILE_SIZE=1000 and MAX_FILES=2. tests/browser.rs starts both in-process and runs this script.
// The browser may reach 127.0.0.1 only: every host name resolves to nothing, and any request the page makes
// elsewhere is aborted and fails the test. Screenshots go to test-artifacts/ (or $E2E_ARTIFACTS).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const here = dirname(fileURLToPath(import.meta.url));
const artifacts = resolve(process.env.E2E_ARTIFACTS || join(here, '..', '..', 'test-artifacts'));
const [base, smallBase] = process.argv.slice(2).map((url) => url && url.replace(/\/+$/, ''));
if (!base || !smallBase) {
  console.error('usage: node tests/browser/e2e.mjs <base-url> <small-limits-base-url>');
  process.exit(2);
}
for (const url of [base, smallBase]) {
  if (new URL(url).hostname !== '127.0.0.1') {
    console.error(`refusing to test ${url}: the browser may reach 127.0.0.1 only`);
    process.exit(2);
  }
}

// A hard stop, so that a hung browser never hangs `cargo test`.
const watchdog = setTimeout(() => {
  console.error('e2e: timed out after 150 s');
  process.exit(1);
}, 150_000);

// ---------------------------------------------------------------------------------------------------------------
// Checks

let passed = 0;
const failures = [];

async function check(name, body) {
  const started = Date.now();
  try {
    await body();
    passed += 1;
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failures.push(name);
    console.log(`FAIL ${name}\n     ${String(error && error.stack ? error.stack : error).split('\n').slice(0, 6).join('\n     ')}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function assertEqual(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Test files

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A width x height RGB PNG: a diagonal gradient with a few circles, so it is visible in the screenshot. */
function png(width, height) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y += 1) {
    const row = y * (width * 3 + 1);
    raw[row] = 0;
    for (let x = 0; x < width; x += 1) {
      const circle = [[0.3, 0.45, 0.22], [0.68, 0.55, 0.16]].some(
        ([cx, cy, r]) => (x / width - cx) ** 2 + ((y / height - cy) * (height / width)) ** 2 < (r * r) / 2,
      );
      const p = row + 1 + x * 3;
      raw[p] = circle ? 255 : Math.round(40 + (180 * x) / width);
      raw[p + 1] = circle ? 200 : Math.round(90 + (120 * y) / height);
      raw[p + 2] = circle ? 60 : 220;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const KOREAN_PNG = '한글 이미지 테스트.png';
const KOREAN_TXT = '회의록 메모.txt';
const DROPPED_PNG = '끌어다 놓은 사진.png';
const KEYBOARD_PNG = '키보드로 고른 그림.png';
const BIG_FILE = '발표 자료 (큰 파일).bin';
const CANCELLED_FILE = '취소할 파일.bin';
const image = png(240, 160);

// ---------------------------------------------------------------------------------------------------------------
// The browser

const profile = mkdtempSync(join(tmpdir(), 'e2e-chromium-'));
mkdirSync(artifacts, { recursive: true });
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
function watch(page) {
  page.on('pageerror', (error) => pageErrors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // A failed upload answers 4xx on purpose, and a broken URL is tested on purpose; Chromium logs both.
    const text = message.text();
    if (message.type() === 'error' && !/Failed to load resource/.test(text)) pageErrors.push(`console: ${text}`);
  });
}

const page = context.pages()[0] || (await context.newPage());
watch(page);

// File choosers are intercepted from the start (turning interception on only when waiting for one races with
// the key press that opens it).
const fileChoosers = [];
page.on('filechooser', (chooser) => fileChoosers.push(chooser));
async function nextFileChooser() {
  const deadline = Date.now() + 15_000;
  while (fileChoosers.length === 0) {
    if (Date.now() > deadline) throw new Error('no file chooser opened');
    await new Promise((done) => setTimeout(done, 50));
  }
  return fileChoosers.shift();
}

/** The card of the file named `name`. */
const card = (p, name) => p.locator('[data-testid="file-card"]', { has: p.locator('[data-testid="file-name"]', { hasText: name }) });

async function waitForState(locator, state) {
  await locator.and(locator.page().locator(`[data-state="${state}"]`)).waitFor();
}

/** Waits until the <img> has decoded a real picture. */
async function waitForImage(img) {
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

let location = null;

try {
  await check('the page is served with its security headers and renders under its CSP', async () => {
    const response = await page.goto(`${base}/`);
    assertEqual(response.status(), 200, 'status');
    const headers = response.headers();
    assertEqual(headers['content-type'], 'text/html; charset=utf-8', 'content-type');
    assert(/script-src 'self'/.test(headers['content-security-policy'] || ''), 'CSP with script-src self');
    assertEqual(headers['x-content-type-options'], 'nosniff', 'nosniff');
    assertEqual(headers['referrer-policy'], 'no-referrer', 'referrer-policy');
    assert(headers.etag, 'an ETag');
    await page.locator('html[data-ready="true"]').waitFor();
    assertEqual(await page.locator('h1').textContent(), '이미지 테스트', 'heading');
    assertEqual(await page.title(), '이미지 테스트', 'title');
    // The script ran and the style sheet applied (both only allowed as files from 'self').
    const display = await page.locator('#dropzone').evaluate((node) => getComputedStyle(node).display);
    assertEqual(display, 'flex', 'drop zone styled by app.css');
  });

  await check('the limits come from GET /config', async () => {
    const config = await (await page.request.get(`${base}/config`)).json();
    await page.getByTestId('max-files').waitFor();
    assertEqual(await page.getByTestId('max-files').textContent(), `${config.maxFiles}개`, 'max files shown');
    assert((await page.getByTestId('max-file-size').textContent()).includes('MB'), 'max size shown');
  });

  await check('a PNG with a Korean name uploads through the file input and renders from its URL', async () => {
    await page.getByTestId('file-input').setInputFiles({ name: KOREAN_PNG, mimeType: 'image/png', buffer: image });
    const item = card(page, KOREAN_PNG);
    await waitForState(item, 'done');
    const img = item.getByTestId('result-img');
    const loaded = await waitForImage(img);
    assertEqual(loaded.width, 240, 'image width');
    assertEqual(loaded.height, 160, 'image height');
    location = await item.getAttribute('data-location');
    assert(location && location.startsWith('http://127.0.0.1:'), `location on the store: ${location}`);
    assertEqual(loaded.src, location, 'the <img> shows the returned location');
    assert(!location.startsWith(base), 'the image comes from the store, not the upload server');
    assertEqual(await item.getByTestId('file-url').inputValue(), location, 'URL field');
    assertEqual(await item.getByTestId('progress').evaluate((node) => node.value), 100, 'progress value');
    const progress = await item.getByTestId('progress-text').textContent();
    assert(progress.endsWith('100%'), `progress text: ${progress}`);
    assert(progress.startsWith(progress.split(' / ')[1].split(' · ')[0]), `all bytes sent: ${progress}`);
    assertEqual(await item.getByTestId('file-name').textContent(), KOREAN_PNG, 'Korean name shown');
    assert((await item.getByTestId('file-meta').textContent()).includes('image/png'), 'type shown');
    assert((await img.getAttribute('alt')).includes(KOREAN_PNG), 'alt text names the file');
    const answer = JSON.parse(await item.locator('[data-testid="file-json"] pre').textContent());
    assertEqual(answer[0].originalname, KOREAN_PNG, 'originalname in the answer');
    assertEqual(answer[0].contentType, 'image/png', 'stored as image/png');
  });

  await check('the copy button puts the URL on the clipboard', async () => {
    const item = card(page, KOREAN_PNG);
    await item.getByTestId('copy-url').click();
    await page.locator('[data-testid="copy-url"][data-copied="true"]').waitFor();
    assertEqual(await page.evaluate(() => navigator.clipboard.readText()), location, 'clipboard');
  });

  await check('a file that is not an image gets a link, not an <img>', async () => {
    await page.getByTestId('file-input').setInputFiles({
      name: KOREAN_TXT,
      mimeType: 'text/plain',
      buffer: Buffer.from('안녕하세요, S3!\n', 'utf8'),
    });
    const item = card(page, KOREAN_TXT);
    await waitForState(item, 'done');
    assertEqual(await item.getByTestId('result-img').count(), 0, 'no <img>');
    const href = await item.getByTestId('file-link').getAttribute('href');
    assert(href && href.startsWith('http://127.0.0.1:'), `link to the object: ${href}`);
    const text = await (await page.request.get(href)).text();
    assertEqual(text, '안녕하세요, S3!\n', 'the stored bytes');
  });

  await check('the drop zone opens the file picker from the keyboard, and the chosen file uploads', async () => {
    await page.locator('.skip-link').focus();
    await page.keyboard.press('Tab');
    assertEqual(await page.evaluate(() => document.activeElement.id), 'dropzone', 'Tab reaches the drop zone');
    const outline = await page.getByTestId('dropzone').evaluate((node) => getComputedStyle(node).outlineStyle);
    assertEqual(outline, 'solid', 'visible focus');
    await page.keyboard.press('Enter');
    const chooser = await nextFileChooser();
    assert(chooser.isMultiple(), 'several files at once');
    await chooser.setFiles({ name: KEYBOARD_PNG, mimeType: 'image/png', buffer: png(90, 60) });
    const item = card(page, KEYBOARD_PNG);
    await waitForState(item, 'done');
    await waitForImage(item.getByTestId('result-img'));
  });

  await check('files dropped on the drop zone upload', async () => {
    const transfer = await page.evaluateHandle(({ name, bytes }) => {
      const data = new DataTransfer();
      data.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }));
      return data;
    }, { name: DROPPED_PNG, bytes: [...png(60, 40)] });
    await page.getByTestId('dropzone').dispatchEvent('dragenter', { dataTransfer: transfer });
    await page.getByTestId('dropzone').dispatchEvent('drop', { dataTransfer: transfer });
    const item = card(page, DROPPED_PNG);
    await waitForState(item, 'done');
    await waitForImage(item.getByTestId('result-img'));
  });

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

  await check('the sample\'s test: a pasted URL renders in an <img>', async () => {
    await page.getByTestId('url-input').fill(location);
    await page.getByTestId('url-show').click();
    const shown = await waitForImage(page.getByTestId('url-img'));
    assertEqual(shown.src, location, 'the pasted URL');
    assertEqual(shown.width, 240, 'width');
    await page.locator('[data-testid="url-figure"][data-state="loaded"]').waitFor();
    assert((await page.getByTestId('url-status').textContent()).includes('240×160'), 'status names the size');
  });

  await check('a URL that is not an image says so', async () => {
    await page.getByTestId('url-input').fill('http://127.0.0.1:9/nothing-here.png');
    await page.getByTestId('url-input').press('Enter');
    await page.locator('[data-testid="url-figure"][data-state="failed"]').waitFor();
    assert((await page.getByTestId('url-status').textContent()).includes('불러오지 못했습니다'), 'error shown');
  });

  await check('"Try in URL test" fills the URL test from a card', async () => {
    await card(page, KOREAN_PNG).getByTestId('try-url').click();
    assertEqual(await page.getByTestId('url-input').inputValue(), location, 'URL filled');
    await page.locator('[data-testid="url-figure"][data-state="loaded"]').waitFor();
  });

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
      await page.screenshot({ path: join(artifacts, 'page-progress.png') });
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

  await check('phone-sized screen: no horizontal scrolling', async () => {
    const phone = await context.newPage();
    watch(phone);
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

  // ------------------------------------------------------------------------------------------------------------
  // Limits (a server with MAX_FILE_SIZE=1000, MAX_FILES=2)

  const limited = await context.newPage();
  watch(limited);

  await check('a file over MAX_FILE_SIZE is held back with an early warning', async () => {
    await limited.goto(`${smallBase}/`);
    await limited.getByTestId('max-file-size').waitFor();
    assertEqual(await limited.getByTestId('max-file-size').textContent(), '1,000 B', 'limit shown');
    await limited.getByTestId('file-input').setInputFiles({ name: '큰 사진.png', mimeType: 'image/png', buffer: image });
    const item = card(limited, '큰 사진.png');
    await waitForState(item, 'held');
    assertEqual(await item.getByTestId('error-code').textContent(), 'LIMIT_FILE_SIZE', 'warning code');
    await limited.getByTestId('notice').waitFor();
    assert((await limited.getByTestId('notice').textContent()).includes('LIMIT_FILE_SIZE'), 'notice names the code');
  });

  await check('"Send anyway" shows the server\'s own LIMIT_FILE_SIZE answer', async () => {
    const item = card(limited, '큰 사진.png');
    const [response] = await Promise.all([
      limited.waitForResponse((r) => r.url().endsWith('/upload')),
      item.getByTestId('send-anyway').click(),
    ]);
    assertEqual(response.status(), 413, 'status');
    await waitForState(item, 'error');
    assertEqual(await item.getByTestId('error-code').textContent(), 'LIMIT_FILE_SIZE', 'error code');
    const message = await item.getByTestId('file-message').textContent();
    assert(message.includes('HTTP 413'), `status shown: ${message}`);
    assert(message.includes('파일이 너무 큽니다'), `readable title: ${message}`);
    assert(message.includes('exceeds the limit of 1000 bytes'), `server message shown: ${message}`);
    assert(message.includes('큰 사진.png'), `the file named: ${message}`);
    await item.getByTestId('retry').waitFor();
    await limited.screenshot({ path: join(artifacts, 'page-limits.png'), fullPage: true });
  });

  await check('more files than MAX_FILES: the extra ones are held back', async () => {
    const small = (name) => ({ name, mimeType: 'text/plain', buffer: Buffer.from(`${name}\n`) });
    await limited.getByTestId('file-input').setInputFiles([small('하나.txt'), small('둘.txt'), small('셋.txt')]);
    await waitForState(card(limited, '하나.txt'), 'done');
    await waitForState(card(limited, '둘.txt'), 'done');
    const third = card(limited, '셋.txt');
    await waitForState(third, 'held');
    assertEqual(await third.getByTestId('error-code').textContent(), 'LIMIT_FILE_COUNT', 'warning code');
  });

  await check('the page made no request off loopback and logged no error', async () => {
    assertEqual(offHost.length, 0, `requests off 127.0.0.1: ${offHost.join(', ')}`);
    assertEqual(pageErrors.length, 0, `errors: ${pageErrors.join(' | ')}`);
  });
} finally {
  await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  clearTimeout(watchdog);
}

console.log(`\ne2e: ${passed} checks ok, ${failures.length} failing${failures.length ? `: ${failures.join('; ')}` : ''}`);
console.log(`e2e: screenshots in ${artifacts}`);
process.exit(failures.length === 0 ? 0 : 1);
