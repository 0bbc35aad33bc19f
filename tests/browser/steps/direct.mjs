// The page's own direct mode (static/js/direct.js): the switch, remembered across a reload; files sent straight
// to the store through the /s3 routes (never POST /upload) with the same card, progress and preview; on the
// server with UPLOAD_TOKEN and PAGE_UPLOAD_MODE=direct, the switch starts on direct, a wrong token shows
// UNAUTHORIZED, the right one goes through a ticket (/direct/<ticket>/s3/...), and a cancelled upload is
// DELETEd; a part whose request fails while the connection is down is sent again. After completion or a DELETE, the server
// lists the upload no more (404 UPLOAD_NOT_FOUND).
import { createHash } from 'node:crypto';

import { assert, assertEqual, check } from '../lib/checks.mjs';
import { card, waitForImage, waitForState } from '../lib/browser.mjs';
import { image } from '../lib/fixtures.mjs';

const MiB = 1024 * 1024;
const DIRECT_PNG = '바로 올린 그림.png';
const DIRECT_BIN = '바로 올린 자료 (20 MiB).bin';
const TICKET_BIN = '티켓으로 올린 자료.bin';
const CANCELLED_BIN = '바로 올리다 취소한 자료.bin';

/** `length` pseudo-random bytes (xorshift32), different for each `seed`. */
function bytes(length, seed) {
  const buffer = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 1) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buffer[i] = x & 0xff;
  }
  return buffer;
}

const sha256 = (buffer) => createHash('sha256').update(buffer).digest('hex');

/** Every request `page` makes from now on: method, origin, path, and its answer's status once known. */
function recordRequests(page) {
  const log = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    const entry = { method: request.method(), origin: url.origin, path: url.pathname, url: url.href, status: null };
    log.push(entry);
    request.response().then((response) => {
      entry.status = response ? response.status() : null;
    }, () => {});
  });
  page.on('requestfailed', (request) => {
    const entry = log.findLast((e) => e.url === request.url() && e.method === request.method());
    if (entry) entry.failed = request.failure()?.errorText || 'failed';
  });
  return log;
}

/** The bytes at `location`, read from the test (not the page). */
async function fetched(location) {
  const answer = await fetch(location);
  assertEqual(answer.status, 200, `GET ${location}`);
  return Buffer.from(await answer.arrayBuffer());
}

/** What GET /s3/multipart/<id>?key= (the parts list) answers for an upload, asked from the test. */
async function listed(page, uploadUrl, headers = {}) {
  const answer = await page.request.get(uploadUrl, { headers });
  return { status: answer.status(), code: (await answer.json().catch(() => ({}))).error?.code };
}

async function until(what, predicate, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 25));
  }
}

export async function directSteps(run) {
  const { page, base } = run;

  await check('the switch starts on the server route (PAGE_UPLOAD_MODE default) and is remembered once flipped', async () => {
    await page.goto(`${base}/`);
    await page.locator('html[data-ready="true"]').waitFor();
    await page.getByTestId('upload-mode').waitFor();
    assert(await page.getByTestId('mode-server').isChecked(), 'server route checked by default');
    await page.getByTestId('mode-direct').check();
    await page.reload();
    await page.locator('html[data-ready="true"]').waitFor();
    await page.getByTestId('upload-mode').waitFor();
    assert(await page.getByTestId('mode-direct').isChecked(), 'direct route remembered after a reload');
  });

  await check('direct mode: a PNG and a 20 MiB file go to the store through /s3 (not /upload), cards as usual', async () => {
    const log = recordRequests(page);
    const data = bytes(20 * MiB, 21);
    await page.getByTestId('file-input').setInputFiles([
      { name: DIRECT_PNG, mimeType: 'image/png', buffer: image },
      { name: DIRECT_BIN, mimeType: 'application/octet-stream', buffer: data },
    ]);
    const picture = card(page, DIRECT_PNG);
    const big = card(page, DIRECT_BIN);
    await waitForState(picture, 'done');
    await waitForState(big, 'done');
    assertEqual(await big.getAttribute('data-route'), 'direct', 'card marked direct');
    const loaded = await waitForImage(picture.getByTestId('result-img'));
    assertEqual(loaded.width, 240, 'image width from the stored object');
    const location = await big.getAttribute('data-location');
    assert(location && !location.startsWith(base), `location on the store: ${location}`);
    assertEqual(sha256(await fetched(location)), sha256(data), 'the 20 MiB file read back');
    assertEqual(sha256(await fetched(await picture.getAttribute('data-location'))), sha256(image), 'the PNG read back');
    assertEqual(await big.getByTestId('progress').evaluate((node) => node.value), 100, 'progress');
    assert((await big.getByTestId('progress-text').textContent()).endsWith('100%'), 'progress text');
    const answer = JSON.parse(await big.locator('[data-testid="file-json"] pre').textContent());
    assertEqual(answer.originalname, DIRECT_BIN, 'originalname in the answer');
    assertEqual(Number(answer.size), data.length, 'size in the answer');

    const server = log.filter((r) => r.origin === base);
    assert(!server.some((r) => r.path === '/upload' || r.path.startsWith('/files')), 'nothing through /upload or tus');
    assertEqual(server.filter((r) => r.method === 'POST' && r.path === '/s3/multipart').length, 2, 'uploads created');
    assertEqual(server.filter((r) => r.method === 'POST' && r.path.endsWith('/complete')).length, 2, 'uploads completed');
    // 8 MiB parts (the server's UPLOAD_PART_SIZE): 3 for 20 MiB, 1 for the PNG, each PUT to the store.
    const puts = log.filter((r) => r.origin !== base && r.method === 'PUT');
    assertEqual(puts.length, 4, 'part PUTs to the store');
    assert(puts.every((r) => r.status === 200), `part PUT statuses: ${puts.map((r) => r.status)}`);
    // Completed uploads are no longer the server's to list: their records are gone.
    for (const complete of server.filter((r) => r.path.endsWith('/complete'))) {
      const after = await listed(page, complete.url.replace('/complete?', '?'));
      assertEqual(`${after.status} ${after.code}`, '404 UPLOAD_NOT_FOUND', 'the parts list after completion');
    }
  });

  await check('direct mode: an empty file is stored too (one empty part)', async () => {
    const name = '빈 파일 (direct).txt';
    await page.getByTestId('file-input').setInputFiles({ name, mimeType: 'text/plain', buffer: Buffer.alloc(0) });
    const item = card(page, name);
    await waitForState(item, 'done');
    assertEqual((await fetched(await item.getAttribute('data-location'))).length, 0, 'bytes read back');
  });

  await check('back on the server route, the next file goes through POST /upload again', async () => {
    await page.getByTestId('mode-server').check();
    const log = recordRequests(page);
    await page.getByTestId('file-input').setInputFiles({ name: '다시 서버로.txt', mimeType: 'text/plain', buffer: Buffer.from('서버를 거쳐') });
    await waitForState(card(page, '다시 서버로.txt'), 'done');
    assert(log.some((r) => r.method === 'POST' && r.path === '/upload'), 'POST /upload');
    assert(!log.some((r) => r.path.startsWith('/s3/')), 'no /s3 call');
  });

  const tokenPage = await run.context.newPage();
  run.watch(tokenPage);
  await check('with UPLOAD_TOKEN and PAGE_UPLOAD_MODE=direct: starts direct; a wrong token says UNAUTHORIZED; the right one goes through a ticket', async () => {
    await tokenPage.goto(`${run.tokenBase}/`);
    await tokenPage.locator('html[data-ready="true"]').waitFor();
    await tokenPage.getByTestId('upload-token').waitFor();
    assert(await tokenPage.getByTestId('mode-direct').isChecked(), 'direct by default');
    await tokenPage.getByTestId('upload-token').fill('wrong-token');
    const log = recordRequests(tokenPage);
    const data = bytes(3 * MiB + 5, 22);
    await tokenPage.getByTestId('file-input').setInputFiles({ name: TICKET_BIN, mimeType: 'application/octet-stream', buffer: data });
    const item = card(tokenPage, TICKET_BIN);
    await waitForState(item, 'error');
    assertEqual(await item.getByTestId('error-code').textContent(), 'UNAUTHORIZED', 'error code');
    assert((await item.getByTestId('file-message').textContent()).includes('Upload token required'), 'its title');

    await tokenPage.getByTestId('upload-token').fill(run.token);
    await item.getByTestId('retry').click();
    await waitForState(item, 'done');
    assertEqual(sha256(await fetched(await item.getAttribute('data-location'))), sha256(data), 'bytes read back');
    const server = log.filter((r) => r.origin === run.tokenBase);
    assert(server.some((r) => r.method === 'POST' && r.path === '/s3/ticket' && r.status === 200), 'POST /s3/ticket');
    const ticketed = server.filter((r) => /^\/direct\/[^/]+\/s3\/multipart/.test(r.path));
    assert(ticketed.some((r) => r.method === 'POST' && r.path.endsWith('/complete') && r.status === 200), 'completed under the ticket');
  });

  await check('direct mode: a part whose request fails while the connection is down is tried again, and the file is whole', async () => {
    const cdp = await run.context.newCDPSession(tokenPage);
    const log = recordRequests(tokenPage);
    const name = '끊겼다 다시 보낸 자료.bin';
    const data = bytes(12 * MiB, 24);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 2 * MiB });
    try {
      await tokenPage.getByTestId('file-input').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: data });
      const item = card(tokenPage, name);
      await until('a part PUT', () => log.some((r) => r.method === 'PUT'));
      await until('some of it sent', async () => (await item.getByTestId('progress').evaluate((n) => n.value)) >= 5);
      await cdp.send('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await waitForState(item, 'retrying');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await waitForState(item, 'done');
      assertEqual(sha256(await fetched(await item.getAttribute('data-location'))), sha256(data), 'bytes read back');
      const puts = log.filter((r) => r.method === 'PUT');
      // Chromium going offline fails the next request of the part (its URL's GET or its PUT, whichever is next).
      const failed = log.filter((r) => r.failed);
      assert(failed.length > 0 && failed.every((r) => r.method === 'PUT' || /\/s3\/multipart\/[^/]+\/\d+$/.test(r.path)), `failed: ${failed.map((r) => `${r.method} ${r.path}`)}`);
      assertEqual(puts.filter((r) => r.status === 200).length, 2, 'both parts stored');
      assertEqual(log.filter((r) => r.method === 'POST' && r.path.endsWith('/s3/multipart')).length, 1, 'one upload created');
    } finally {
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await cdp.detach();
    }
  });

  await check('direct mode: a cancelled upload is DELETEd at the server and shown as cancelled', async () => {
    const cdp = await run.context.newCDPSession(tokenPage);
    const log = recordRequests(tokenPage);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 2 * MiB });
    try {
      await tokenPage.getByTestId('file-input').setInputFiles({ name: CANCELLED_BIN, mimeType: 'application/octet-stream', buffer: bytes(24 * MiB, 23) });
      const item = card(tokenPage, CANCELLED_BIN);
      await until('a part PUT', () => log.some((r) => r.method === 'PUT'));
      await item.getByTestId('cancel').click();
      await waitForState(item, 'error');
      assertEqual(await item.getByTestId('error-code').textContent(), 'ABORTED', 'error code');
      await until('the DELETE answered', () => log.some((r) => r.method === 'DELETE' && r.status !== null));
      const deleted = log.find((r) => r.method === 'DELETE');
      assert(/^\/direct\/[^/]+\/s3\/multipart\/[^/]+$/.test(deleted.path), `DELETE ${deleted.path}`);
      assertEqual(deleted.status, 204, 'DELETE answer');
      const after = await listed(tokenPage, deleted.url.replace(/\/direct\/[^/]+\/s3\//, '/s3/'), { Authorization: `Bearer ${run.token}` });
      assertEqual(`${after.status} ${after.code}`, '404 UPLOAD_NOT_FOUND', 'the parts list after the DELETE');
    } finally {
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await cdp.detach();
    }
  });
  await tokenPage.close();
}
