// The real client: Uppy (the `uppy` bundle, pinned in package.json: @uppy/core and @uppy/aws-s3 in companion
// mode) drives direct uploads against the running binary and its embedded store, from a document AT THE
// SERVER'S ORIGIN (see uppyPage), so Uppy's calls to /s3/... are same-origin as a page of the server's would
// be, and its part PUTs cross to the store, whose CORS allows the server's origin. The files are built in the
// page from pseudo-random bytes; the page hashes them, uploads, then fetches each `location` back and hashes
// that, so the bytes stored are the bytes sent.
//
// (a) 1 MiB with the plugin's defaults: GET /s3/params, then the form POSTed to the store; and 6 MiB with
// `shouldUseMultipart: () => true` (the plugin sends files of 5 MiB or less with a form whatever that option
// says), 2 parts; (c) on the server with UPLOAD_TOKEN: companionEndpoint from POST /s3/ticket uploads, and the
// bare origin (no header: Uppy sends none) gets 401 and the upload fails; (b) on that server too (its
// MAX_FILE_SIZE is 128 MiB), through the ticket: 105 MiB, over the plugin's 100 MiB line, multipart with its
// default chunking (5 MiB parts, 21 of them).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { assert, assertEqual, check } from '../lib/checks.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const BUNDLE = join(here, '..', 'node_modules', 'uppy', 'dist', 'uppy.min.js');
const MiB = 1024 * 1024;
/** Above the plugin's 5 MiB floor for multipart (see the top of this file). */
const SMALL = 6 * MiB + 123;
const TEST_PATH = '/__uppy-test';

/**
 * A page at `base`'s origin with the Uppy bundle loaded and nothing else. The document is the server's own
 * answer to an unknown path (a JSON 404, no CSP): a document fulfilled by the test instead would count, for
 * Chromium's local network access checks, as coming from outside loopback, and its requests to the store on
 * 127.0.0.1 would be refused. The bundle is added from the file in node_modules.
 */
async function uppyPage(run, base) {
  const page = await run.context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const requests = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    const entry = { method: request.method(), origin: url.origin, path: url.pathname, status: null };
    requests.push(entry);
    request.response().then((response) => {
      entry.status = response ? response.status() : null;
    }, () => {});
  });
  const answer = await page.goto(`${base}${TEST_PATH}`);
  assertEqual(answer.status(), 404, `GET ${TEST_PATH} (any document of the server's origin will do)`);
  assert(!answer.headers()['content-security-policy'], 'no CSP on the 404: the bundle may be added');
  await page.addScriptTag({ content: readFileSync(BUNDLE, 'utf8') });
  await page.waitForFunction(() => Boolean(globalThis.Uppy && globalThis.Uppy.Uppy && globalThis.Uppy.AwsS3));
  return { page, errors, requests };
}

/**
 * In the page: builds the files, uploads them with Uppy + AwsS3 at `endpoint`, fetches each location back.
 * Returns, per file, whether it succeeded, its location, and the SHA-256 of the bytes sent and read back.
 */
function uploadWithUppy(page, { endpoint, files, forceMultipart }) {
  return page.evaluate(async ({ endpoint, files, forceMultipart }) => {
    const hex = async (data) => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', data)))
      .map((b) => b.toString(16).padStart(2, '0')).join('');
    const bytes = (length, seed) => {
      const out = new Uint8Array(length);
      let x = seed >>> 0 || 1;
      for (let i = 0; i < length; i += 1) {
        x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
        out[i] = x & 0xff;
      }
      return out;
    };
    const uppy = new Uppy.Uppy({ autoProceed: false });
    const options = { companionEndpoint: endpoint };
    if (forceMultipart) options.shouldUseMultipart = () => true;
    uppy.use(Uppy.AwsS3, options);
    const sent = {};
    for (const { name, size, seed } of files) {
      const data = bytes(size, seed);
      sent[name] = await hex(data);
      uppy.addFile({ name, type: 'application/octet-stream', data: new Blob([data], { type: 'application/octet-stream' }) });
    }
    const result = await uppy.upload();
    const out = [];
    for (const file of result.successful || []) {
      const location = file.response && file.response.uploadURL;
      const body = (file.response && file.response.body) || {};
      const answer = await fetch(location);
      out.push({
        name: file.name,
        ok: true,
        location,
        bodyLocation: body.location,
        status: answer.status,
        sent: sent[file.name],
        stored: await hex(await answer.arrayBuffer()),
      });
    }
    for (const file of result.failed || []) {
      out.push({ name: file.name, ok: false, error: String(file.error && (file.error.message || file.error)) });
    }
    uppy.destroy();
    return out;
  }, { endpoint, files, forceMultipart });
}

/** Checks that every file succeeded and that its location serves exactly the bytes sent. */
function assertStored(results, names) {
  assertEqual(results.length, names.length, 'files reported');
  for (const name of names) {
    const result = results.find((r) => r.name === name);
    assert(result, `no result for ${name}`);
    assert(result.ok, `${name} failed: ${result.error}`);
    assert(result.location && result.location === result.bodyLocation, `${name}: uploadURL ${result.location}, body.location ${result.bodyLocation}`);
    assertEqual(result.status, 200, `${name}: GET location`);
    assertEqual(result.stored, result.sent, `${name}: SHA-256 of the bytes read back`);
  }
}

export async function uppySteps(run) {
  const { page, errors, requests } = await uppyPage(run, run.base);
  const store = () => requests.filter((r) => r.origin !== run.base);

  await check('Uppy (@uppy/aws-s3, companion mode): a 1 MiB file goes through GET /s3/params and a form POST, byte for byte', async () => {
    const name = '우피 작은 파일 (1 MiB).bin';
    const results = await uploadWithUppy(page, {
      endpoint: await page.evaluate(() => location.origin),
      files: [{ name, size: MiB, seed: 10 }],
      forceMultipart: false,
    });
    assertStored(results, [name]);
    const calls = requests.filter((r) => r.origin === run.base && r.path.startsWith('/s3/'));
    assert(calls.some((r) => r.method === 'GET' && r.path === '/s3/params' && r.status === 200), 'GET /s3/params');
    assert(!calls.some((r) => r.path.startsWith('/s3/multipart')), 'no multipart upload');
    const posts = store().filter((r) => r.method === 'POST');
    assertEqual(posts.length, 1, 'form POSTs to the store');
    assert(posts[0].status >= 200 && posts[0].status < 300, `the store's answer: ${posts[0].status}`);
  });

  await check('Uppy: a 6 MiB file, multipart forced, is stored byte for byte', async () => {
    const name = '우피 작은 파일.bin';
    const results = await uploadWithUppy(page, {
      endpoint: await page.evaluate(() => location.origin),
      files: [{ name, size: SMALL, seed: 11 }],
      forceMultipart: true,
    });
    assertStored(results, [name]);
    const calls = requests.filter((r) => r.origin === run.base && r.path.startsWith('/s3/'));
    assert(calls.some((r) => r.method === 'POST' && r.path === '/s3/multipart'), 'POST /s3/multipart');
    assert(calls.some((r) => r.method === 'POST' && /^\/s3\/multipart\/[^/]+\/complete$/.test(r.path)), 'complete');
    assertEqual(store().filter((r) => r.method === 'PUT').length, 2, 'part PUTs to the store');
    assert(!requests.some((r) => r.path === '/upload'), 'nothing went through POST /upload');
  });

  await check('Uppy: the page at the server logged no script error', async () => {
    assertEqual(errors.length, 0, `page errors: ${errors.join(' | ')}`);
  });
  await page.close();

  const token = await uppyPage(run, run.tokenBase);
  const endpoint = { value: null };
  await check('Uppy with UPLOAD_TOKEN: companionEndpoint from POST /s3/ticket uploads; the bare origin gets 401', async () => {
    const ticket = await token.page.evaluate(async (secret) => {
      const answer = await fetch('/s3/ticket', { method: 'POST', headers: { Authorization: `Bearer ${secret}` } });
      return { status: answer.status, body: await answer.json() };
    }, run.token);
    assertEqual(ticket.status, 200, 'POST /s3/ticket');
    assert(/^\/direct\/[^/]+$/.test(ticket.body.companionEndpoint), `companionEndpoint ${ticket.body.companionEndpoint}`);
    endpoint.value = `${run.tokenBase}${ticket.body.companionEndpoint}`;
    const name = '토큰으로 올린 파일.bin';
    const results = await uploadWithUppy(token.page, {
      endpoint: endpoint.value,
      files: [{ name, size: MiB + 17, seed: 13 }],
      forceMultipart: false,
    });
    assertStored(results, [name]);
    assert(token.requests.some((r) => /^\/direct\/[^/]+\/s3\/params$/.test(r.path) && r.status === 200), 'params under the ticket');

    const refused = await uploadWithUppy(token.page, {
      endpoint: run.tokenBase,
      files: [{ name: '토큰 없는 파일.bin', size: SMALL, seed: 14 }],
      forceMultipart: true,
    });
    assertEqual(refused.length, 1, 'files reported');
    assert(!refused[0].ok, 'without the ticket the upload must fail');
    const bare = token.requests.filter((r) => r.origin === run.tokenBase && r.method === 'POST' && r.path === '/s3/multipart');
    assertEqual(bare.length, 1, 'POST /s3/multipart without a ticket');
    assertEqual(bare[0].status, 401, 'its answer');
  });

  // On the fourth server, whose MAX_FILE_SIZE (128 MiB) lets a file over the plugin's 100 MiB line in.
  await check('Uppy: a 105 MiB file goes multipart by default (21 parts of 5 MiB) and is stored byte for byte', async () => {
    assert(endpoint.value, 'a ticket from the step before');
    const name = '우피 큰 파일 (105 MiB).bin';
    const puts = () => token.requests.filter((r) => r.origin !== run.tokenBase && r.method === 'PUT');
    const before = puts().length;
    const results = await uploadWithUppy(token.page, {
      endpoint: endpoint.value,
      files: [{ name, size: 105 * MiB, seed: 12 }],
      forceMultipart: false,
    });
    assertStored(results, [name]);
    assertEqual(puts().length - before, 21, 'part PUTs to the store');
    assert(puts().slice(before).every((r) => r.status === 200), 'every part PUT answered 200');
  });
  await check('Uppy: the page at the server with a token logged no script error', async () => {
    assertEqual(token.errors.length, 0, `page errors: ${token.errors.join(' | ')}`);
  });
  await token.page.close();
}
