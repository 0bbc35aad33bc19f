// Steps on the server started with RESUMABLE_THRESHOLD=1 MiB and UPLOAD_PART_SIZE=5 MiB: a 12 MiB file goes
// through tus (/files/, PATCHes of one 5 MiB part), never POST /upload, and is stored byte for byte; a reload
// of the page half way, then the same file chosen again, resumes from the server's offset (the progress bar
// starts there and the card says so); a connection dropped during a PATCH (Chromium's network emulation
// going offline) is retried after HEAD tells where the server stopped; a cancelled one is DELETEd.
//
// Requests are watched from the test (playwright's request events), uploads slowed with Chromium's upload
// throttling, and every wait is for a condition, bounded by the context's timeout.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { assert, assertEqual, check } from '../lib/checks.mjs';
import { card, waitForState } from '../lib/browser.mjs';

const MiB = 1024 * 1024;
const SIZE = 12 * MiB;
const PART = 5 * MiB;
/** Upload throttling while a step needs the upload in flight: a 5 MiB PATCH takes about 2.5 s. */
const SLOW = 2 * MiB;

/** `length` pseudo-random bytes, different for each `seed` (xorshift32), so a misplaced chunk shows. */
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

/** Every request the page sends, with its answer's status or its failure, in order. */
function recordRequests(page) {
  const log = [];
  page.on('request', (request) => {
    const entry = { method: request.method(), path: new URL(request.url()).pathname, request, status: null, failed: null };
    log.push(entry);
    request.response().then((response) => {
      entry.status = response ? response.status() : null;
    }, () => {});
  });
  page.on('requestfailed', (request) => {
    const entry = log.find((e) => e.request === request);
    if (entry) entry.failed = request.failure()?.errorText || 'failed';
  });
  return log;
}

/** The Upload-Offset a request sent. */
async function offsetOf(entry) {
  const headers = await entry.request.allHeaders();
  return Number(headers['upload-offset']);
}

/** Waits until `predicate` holds, polling, for at most `ms`. */
async function until(what, predicate, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 25));
  }
}

/** Records every value the progress bar of the card for `name` takes (from now on, on this document). */
async function watchProgress(page, name) {
  await page.evaluate((fileName) => {
    window.progressSeen = [];
    const observer = new MutationObserver(() => {
      for (const node of document.querySelectorAll('[data-testid="file-card"]')) {
        if (node.querySelector('[data-testid="file-name"]').textContent !== fileName) continue;
        const value = node.querySelector('[data-testid="progress"]').value;
        const last = window.progressSeen[window.progressSeen.length - 1];
        if (last === undefined || last !== value) window.progressSeen.push(value);
      }
    });
    observer.observe(document.getElementById('files'), { subtree: true, childList: true, characterData: true, attributes: true });
  }, name);
}

/** Fetches the stored object from the card's location and compares it with the file. */
async function assertStored(item, file, what) {
  const location = await item.getAttribute('data-location');
  assert(location && new URL(location).hostname === '127.0.0.1', `${what}: location on loopback: ${location}`);
  const response = await fetch(location);
  assertEqual(response.status, 200, `${what}: GET the stored object`);
  const stored = Buffer.from(await response.arrayBuffer());
  assertEqual(stored.length, file.length, `${what}: stored length`);
  assertEqual(sha256(stored), sha256(file), `${what}: stored bytes' SHA-256`);
}

async function throttle(cdp, uploadThroughput) {
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput });
}

export async function resumableSteps(run) {
  const { context, resumableBase } = run;
  const page = await context.newPage();
  run.watch(page);
  const log = recordRequests(page);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const folder = mkdtempSync(join(tmpdir(), 'e2e-resumable-'));
  /** A file on disk (so that choosing it again gives the same name, size and lastModified). */
  const onDisk = (name, seed) => {
    const buffer = bytes(SIZE, seed);
    const path = join(folder, name);
    writeFileSync(path, buffer);
    return { name, path, buffer };
  };
  const tusRequests = (from) => log.slice(from).filter((e) => e.path.startsWith('/files/'));
  const storedKeys = () => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tus-upload:')));

  try {
    await check('a file over the threshold goes through tus in whole parts and is stored byte for byte', async () => {
      await page.goto(`${resumableBase}/`);
      await page.getByTestId('max-file-size').waitFor();
      const file = onDisk('큰 동영상 (이어 올리기).bin', 1);
      const from = log.length;
      await page.getByTestId('file-input').setInputFiles(file.path);
      const item = card(page, file.name);
      await waitForState(item, 'done');
      const sent = log.slice(from);
      assertEqual(sent.filter((e) => e.path === '/upload').length, 0, 'requests to POST /upload');
      const creations = sent.filter((e) => e.method === 'POST' && e.path === '/files/');
      assertEqual(creations.length, 1, 'POST /files/');
      assertEqual(creations[0].status, 201, 'creation answered');
      const createHeaders = await creations[0].request.allHeaders();
      assertEqual(createHeaders['upload-length'], String(SIZE), 'Upload-Length');
      const name = Buffer.from(/filename ([^,]+)/.exec(createHeaders['upload-metadata'])[1], 'base64').toString('utf8');
      assertEqual(name, file.name, 'Upload-Metadata filename (UTF-8, base64)');
      const patches = sent.filter((e) => e.method === 'PATCH');
      assertEqual(patches.length, 3, 'PATCHes of 5 MiB, 5 MiB, 2 MiB');
      assertEqual((await Promise.all(patches.map(offsetOf))).join(','), `0,${PART},${2 * PART}`, 'their Upload-Offsets');
      assert(patches.every((p) => p.status === 204), `PATCH answers: ${patches.map((p) => p.status)}`);
      assertEqual(await item.getByTestId('file-name').textContent(), file.name, 'the Korean name as the server stored it');
      const json = JSON.parse(await item.locator('[data-testid="file-json"] pre').textContent());
      assertEqual(json.originalname, file.name, 'the result JSON (as POST /upload describes a file)');
      assertEqual(Number(json.size), SIZE, 'the result JSON\'s size');
      await item.getByTestId('copy-url').waitFor();
      await assertStored(item, file.buffer, 'tus upload');
      assertEqual((await storedKeys()).length, 0, 'localStorage entries left after completion');
    });

    await check('a reload half way, then the same file again, resumes from the server\'s offset', async () => {
      const file = onDisk('다시 고른 파일.bin', 2);
      await throttle(cdp, SLOW);
      const from = log.length;
      await page.getByTestId('file-input').setInputFiles(file.path);
      // Once the first part is stored (its PATCH answered 204) and the second is on its way, reload.
      await until('the first PATCH to succeed', () => tusRequests(from).some((e) => e.method === 'PATCH' && e.status === 204));
      await until('the second PATCH to start', () => tusRequests(from).filter((e) => e.method === 'PATCH').length >= 2);
      const [created] = tusRequests(from).filter((e) => e.method === 'POST');
      const uploadUrl = tusRequests(from).find((e) => e.method === 'PATCH').path;
      await page.reload();
      await throttle(cdp, -1);
      assertEqual((await storedKeys()).length, 1, 'the upload kept in localStorage across the reload');
      assert(created, 'the upload was created before the reload');

      await page.getByTestId('max-file-size').waitFor();
      await watchProgress(page, file.name);
      const after = log.length;
      await page.getByTestId('file-input').setInputFiles(file.path);
      const item = card(page, file.name);
      await waitForState(item, 'done');
      const resumed = tusRequests(after);
      assertEqual(resumed.filter((e) => e.method === 'POST').length, 0, 'uploads created after the reload');
      assertEqual(resumed[0].method, 'HEAD', 'the first request after the reload');
      assertEqual(resumed[0].path, uploadUrl, 'it asks about the stored upload');
      const firstPatch = resumed.find((e) => e.method === 'PATCH');
      assertEqual(firstPatch.path, uploadUrl, 'the same upload goes on');
      const offset = await offsetOf(firstPatch);
      assert(offset >= PART, `the first PATCH after the reload starts past the stored part: Upload-Offset ${offset}`);
      console.log(`     resumed after the reload at Upload-Offset ${offset} of ${SIZE}`);
      const seen = await page.evaluate(() => window.progressSeen);
      const firstShown = seen.find((v) => v > 0);
      assert(firstShown >= Math.floor((offset / SIZE) * 100), `the bar starts at the resumed offset (${offset} B): ${seen.join(', ')}`);
      assert(seen.every((v, i) => i === 0 || v >= seen[i - 1]), `progress never goes back: ${seen.join(', ')}`);
      const note = await item.getByTestId('file-note').textContent();
      assert(note.includes('이어서 올립니다') && note.includes('Resumed at'), `the card says it resumed: ${note}`);
      await item.getByTestId('copy-url').waitFor();
      await assertStored(item, file.buffer, 'resumed upload');
      assertEqual((await storedKeys()).length, 0, 'localStorage entries left after completion');
    });

    await check('a connection dropped during a PATCH is retried from where the server stopped', async () => {
      const file = onDisk('끊겼다 이어지는 파일.bin', 3);
      await throttle(cdp, SLOW);
      const from = log.length;
      await page.getByTestId('file-input').setInputFiles(file.path);
      const item = card(page, file.name);
      // The second PATCH is in flight with some of its bytes sent: the connection goes away.
      await until('the first PATCH to succeed', () => tusRequests(from).some((e) => e.method === 'PATCH' && e.status === 204));
      await until('the second PATCH to start', () => tusRequests(from).filter((e) => e.method === 'PATCH').length >= 2);
      await until('a megabyte of the second part sent', async () => (await item.getByTestId('progress').evaluate((n) => n.value)) >= 50);
      await cdp.send('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      try {
        await until('the PATCH to fail', () => tusRequests(from).some((e) => e.method === 'PATCH' && e.failed));
        await waitForState(item, 'retrying');
      } finally {
        await throttle(cdp, -1);
      }
      await waitForState(item, 'done');
      const sent = tusRequests(from);
      assertEqual(sent.filter((e) => e.method === 'POST').length, 1, 'one upload created');
      const failedAt = sent.findIndex((e) => e.method === 'PATCH' && e.failed);
      const next = sent.slice(failedAt + 1).filter((e) => !e.failed);
      assertEqual(next[0].method, 'HEAD', 'after the drop, the first answered request');
      const resumedPatch = next.find((e) => e.method === 'PATCH');
      const offset = await offsetOf(resumedPatch);
      assert(offset >= PART, `the PATCH after the drop starts past the stored part: Upload-Offset ${offset}`);
      console.log(`     resumed after the drop at Upload-Offset ${offset} of ${SIZE}`);
      assert(!(await item.getByTestId('file-message').isVisible()), 'no error shown');
      await item.getByTestId('copy-url').waitFor();
      await assertStored(item, file.buffer, 'upload after a dropped connection');
    });

    await check('cancelling a tus upload half way ends it on the server (DELETE) and forgets it', async () => {
      const file = onDisk('취소할 큰 파일.bin', 4);
      await throttle(cdp, SLOW);
      const from = log.length;
      try {
        await page.getByTestId('file-input').setInputFiles(file.path);
        const item = card(page, file.name);
        await until('the first PATCH to start', () => tusRequests(from).some((e) => e.method === 'PATCH'));
        const uploadUrl = tusRequests(from).find((e) => e.method === 'PATCH').path;
        await item.getByTestId('cancel').click();
        await waitForState(item, 'error');
        assertEqual(await item.getByTestId('error-code').textContent(), 'ABORTED', 'cancelled');
        await until('the DELETE to be answered', () => tusRequests(from).some((e) => e.method === 'DELETE' && e.status !== null));
        const deleted = tusRequests(from).find((e) => e.method === 'DELETE');
        assertEqual(deleted.path, uploadUrl, 'the upload ended');
        assertEqual(deleted.status, 204, 'DELETE answered');
        assertEqual((await storedKeys()).length, 0, 'localStorage entries left after cancelling');
        const gone = await fetch(`${resumableBase}${uploadUrl}`, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
        assertEqual(gone.status, 404, 'HEAD of the cancelled upload');
        await item.getByTestId('remove').click();
      } finally {
        await throttle(cdp, -1);
      }
    });
  } finally {
    await throttle(cdp, -1).catch(() => {});
    await cdp.detach().catch(() => {});
    await page.close().catch(() => {});
    rmSync(folder, { recursive: true, force: true });
  }
}
