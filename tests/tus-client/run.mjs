// The reference tus client, tus-js-client (the version pinned in package.json), against the server's /files.
//
//   node tests/tus-client/run.mjs <server url>
//
// Numbered steps, each asserting what it needs; the first failure prints "step N (...) failed: ..." and exits 1.
// Loopback only: the server URL and every X-Object-Location must point at 127.0.0.1 / ::1 / localhost.
// The server is expected to run with UPLOAD_PART_SIZE=5242880 (5 MiB parts), as tests/tus_client.rs starts it.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import process from 'node:process';

import * as tus from 'tus-js-client';

const MiB = 1024 * 1024;
const CHUNK = 5 * MiB;
const KOREAN_NAME = '스크린샷 2023-11-15 오후 8.04.29.png';
// A step that has not finished by then has hung: fail it rather than wait for the Rust test's timeout.
const STEP_TIMEOUT_MS = 120_000;

const server = process.argv[2];
if (!server) {
  console.error('usage: node tests/tus-client/run.mjs <server url>');
  process.exit(2);
}
const endpoint = new URL('/files', server).toString();
assertLoopback(endpoint, 'the server URL');

const installed = createRequire(import.meta.url)('tus-js-client/package.json').version;
console.log(`tus-js-client ${installed}, node ${process.version}, endpoint ${endpoint}`);

/** `length` pseudo-random bytes, the same for the same `seed` (xorshift32). */
function bytes(length, seed) {
  const buffer = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buffer[i] = x & 0xff;
  }
  return buffer;
}

function assertLoopback(url, what) {
  const host = new URL(url).hostname;
  assert.ok(
    ['127.0.0.1', '[::1]', 'localhost'].includes(host),
    `${what} must be on loopback, got ${url}`,
  );
}

/**
 * Starts `new tus.Upload(data, options)` and settles with how it ended: resolves `{ upload, lastResponse,
 * requests, progress }` on success, rejects with the client's error (carrying `requests`) on onError.
 * `requests` lists every request the client sent ("METHOD url"); `progress` every onProgress value.
 */
function run(data, options) {
  return new Promise((resolve, reject) => {
    const requests = [];
    const progress = [];
    const { onBeforeRequest, onProgress, ...rest } = options;
    const upload = new tus.Upload(data, {
      ...rest,
      onBeforeRequest(req) {
        requests.push(`${req.getMethod()} ${req.getURL()}`);
        return onBeforeRequest?.(req);
      },
      onProgress(sent, total) {
        progress.push(sent);
        onProgress?.(sent, total, upload);
      },
      onSuccess({ lastResponse }) {
        resolve({ upload, lastResponse, requests, progress });
      },
      onError(err) {
        err.requests = requests;
        reject(err);
      },
    });
    upload.start();
  });
}

/** A tus request of our own (HEAD, GET) to an upload's URL. */
function tusRequest(method, url) {
  return fetch(url, { method, headers: { 'Tus-Resumable': '1.0.0' } });
}

/** The object at `location` (an X-Object-Location) must hold exactly `expected`. */
async function assertObject(location, expected, what) {
  assert.ok(location, `${what}: the last response carries no X-Object-Location`);
  assertLoopback(location, `${what}: X-Object-Location`);
  const response = await fetch(location);
  assert.equal(response.status, 200, `${what}: GET ${location} answered ${response.status}`);
  const stored = Buffer.from(await response.arrayBuffer());
  assert.equal(stored.length, expected.length, `${what}: the object's size`);
  assert.ok(stored.equals(expected), `${what}: the object's bytes differ from the bytes uploaded`);
}

function metadata(filename) {
  return { filename, filetype: filename.endsWith('.png') ? 'image/png' : 'application/octet-stream' };
}

const steps = [
  [
    'a 12 MiB Buffer with a Korean name in 5 MiB chunks; X-Object-Location and GET <upload url> describe it',
    async () => {
      const data = bytes(12 * MiB + 12_345, 1);
      const { upload, lastResponse, requests } = await run(data, {
        endpoint,
        chunkSize: CHUNK,
        metadata: { filename: KOREAN_NAME, filetype: 'image/png' },
      });
      const patches = requests.filter((r) => r.startsWith('PATCH ')).length;
      assert.equal(patches, 3, `3 PATCHes of at most 5 MiB expected, the client sent: ${requests.join(', ')}`);
      const location = lastResponse.getHeader('X-Object-Location');
      await assertObject(location, data, 'the 12 MiB upload');

      const response = await tusRequest('GET', upload.url);
      assert.equal(response.status, 200, `GET ${upload.url} answered ${response.status}`);
      const described = await response.json();
      assert.equal(described.originalname, KOREAN_NAME, 'GET <upload url>: originalname');
      assert.equal(described.size, data.length, 'GET <upload url>: size');
      assert.equal(described.location, location, 'GET <upload url>: location = X-Object-Location');
    },
  ],
  [
    'uploadDataDuringCreation: a small Buffer completes in the POST alone',
    async () => {
      const data = bytes(100_000, 2);
      const { lastResponse, requests } = await run(data, {
        endpoint,
        uploadDataDuringCreation: true,
        metadata: metadata('creation-with-upload.bin'),
      });
      assert.deepEqual(
        requests.map((r) => r.split(' ')[0]),
        ['POST'],
        `one POST with the bytes expected, the client sent: ${requests.join(', ')}`,
      );
      assert.equal(lastResponse.getStatus(), 201, 'the POST answered');
      await assertObject(lastResponse.getHeader('X-Object-Location'), data, 'creation with upload');
    },
  ],
  [
    'an empty file: the client sends only the POST, and the server stores it then',
    async () => {
      const { upload, requests } = await run(Buffer.alloc(0), {
        endpoint,
        metadata: metadata('빈 파일.txt'),
      });
      assert.deepEqual(
        requests.map((r) => r.split(' ')[0]),
        ['POST'],
        `one POST expected for an empty file, the client sent: ${requests.join(', ')}`,
      );
      const response = await tusRequest('GET', upload.url);
      assert.equal(response.status, 200, `GET ${upload.url} answered ${response.status}`);
      const described = await response.json();
      assert.equal(described.size, 0, 'GET <upload url>: size');
      assert.equal(described.originalname, '빈 파일.txt', 'GET <upload url>: originalname');
      await assertObject(described.location, Buffer.alloc(0), 'the empty file');
    },
  ],
  [
    'overridePatchMethod: bytes sent as POST + X-HTTP-Method-Override: PATCH',
    async () => {
      const data = bytes(3 * MiB + 7, 3);
      const overrides = [];
      const { lastResponse, requests } = await run(data, {
        endpoint,
        chunkSize: 2 * MiB,
        overridePatchMethod: true,
        metadata: metadata('override.bin'),
        onBeforeRequest(req) {
          overrides.push(req.getHeader('X-HTTP-Method-Override') ?? null);
        },
      });
      const methods = requests.map((r) => r.split(' ')[0]);
      assert.deepEqual(methods, ['POST', 'POST', 'POST'], `the client sent: ${requests.join(', ')}`);
      assert.deepEqual(overrides, [null, 'PATCH', 'PATCH'], 'X-HTTP-Method-Override on the bytes only');
      await assertObject(lastResponse.getHeader('X-Object-Location'), data, 'overridePatchMethod');
    },
  ],
  [
    'resume: abort after the first 5 MiB chunk, then a new Upload with uploadUrl continues from the server offset',
    async () => {
      const data = bytes(12 * MiB + 1, 4);
      const first = await new Promise((resolve, reject) => {
        const upload = new tus.Upload(data, {
          endpoint,
          chunkSize: CHUNK,
          metadata: metadata('resumed.bin'),
          onChunkComplete(_chunk, accepted) {
            upload.abort().then(() => resolve({ url: upload.url, accepted }), reject);
          },
          onSuccess() {
            reject(new Error('the first upload completed: abort() after the first chunk did not stop it'));
          },
          onError: reject,
        });
        upload.start();
      });
      assert.equal(first.accepted, CHUNK, 'the first chunk accepted (onChunkComplete bytesAccepted)');

      const head = await tusRequest('HEAD', first.url);
      assert.equal(head.status, 200, `HEAD ${first.url} after the abort answered ${head.status}`);
      const offset = Number(head.headers.get('upload-offset'));
      assert.ok(offset > 0, `HEAD after the abort: Upload-Offset ${head.headers.get('upload-offset')}, not > 0`);
      assert.equal(offset, first.accepted, 'HEAD after the abort: Upload-Offset = the bytes the client saw accepted');

      // No endpoint: were the URL refused, the client would fail instead of quietly starting over.
      const { upload, lastResponse, requests, progress } = await run(data, {
        uploadUrl: first.url,
        chunkSize: CHUNK,
        metadata: metadata('resumed.bin'),
      });
      assert.equal(upload.url, first.url, 'the resumed upload kept its URL');
      assert.ok(requests[0].startsWith('HEAD '), `the resume starts with HEAD, the client sent: ${requests.join(', ')}`);
      assert.ok(!requests.some((r) => r.startsWith('POST ')), `no new upload created: ${requests.join(', ')}`);
      assert.equal(progress[0], offset, "the resumed upload's first onProgress is the server's offset");
      const patches = requests.filter((r) => r.startsWith('PATCH ')).length;
      assert.equal(patches, 2, `2 PATCHes for the remaining 7 MiB + 1 B expected: ${requests.join(', ')}`);
      await assertObject(lastResponse.getHeader('X-Object-Location'), data, 'the resumed upload');
    },
  ],
  [
    'abort(true) on an unfinished upload sends DELETE; HEAD is then 404',
    async () => {
      const data = bytes(12 * MiB, 5);
      let url;
      const requests = [];
      await new Promise((resolve, reject) => {
        const upload = new tus.Upload(data, {
          endpoint,
          chunkSize: CHUNK,
          metadata: metadata('terminated.bin'),
          onBeforeRequest(req) {
            requests.push(`${req.getMethod()} ${req.getURL()}`);
          },
          onChunkComplete() {
            url = upload.url;
            upload.abort(true).then(resolve, (err) =>
              reject(new Error(`abort(true) failed: ${err.message}`, { cause: err })),
            );
          },
          onSuccess() {
            reject(new Error('the upload completed: abort(true) after the first chunk did not stop it'));
          },
          onError: reject,
        });
        upload.start();
      });
      assert.ok(requests.includes(`DELETE ${url}`), `abort(true) sent no DELETE: ${requests.join(', ')}`);
      const head = await tusRequest('HEAD', url);
      assert.equal(head.status, 404, `HEAD ${url} after the DELETE answered ${head.status}`);
    },
  ],
  [
    'a wrong Upload-Checksum: onError with status 460 (not retried), nothing of the body kept',
    async () => {
      const data = bytes(256 * 1024, 6);
      const zeros = Buffer.alloc(20).toString('base64');
      const error = await run(data, {
        endpoint,
        metadata: metadata('checksum.bin'),
        onBeforeRequest(req) {
          if (req.getMethod() === 'PATCH') req.setHeader('Upload-Checksum', `sha1 ${zeros}`);
        },
      }).then(
        () => assert.fail('the upload succeeded despite a wrong Upload-Checksum'),
        (err) => err,
      );
      const status = error.originalResponse?.getStatus();
      assert.equal(status, 460, `onError's response status (error: ${error.message})`);
      const body = JSON.parse(error.originalResponse.getBody());
      assert.equal(body.error?.code, 'CHECKSUM_MISMATCH', "the 460's error code");
      const patches = error.requests.filter((r) => r.startsWith('PATCH '));
      assert.equal(patches.length, 1, `a 460 is not retried; the client sent: ${error.requests.join(', ')}`);

      const url = patches[0].slice('PATCH '.length);
      const head = await tusRequest('HEAD', url);
      assert.equal(head.status, 200, `HEAD ${url} after the 460 answered ${head.status}`);
      assert.equal(head.headers.get('upload-offset'), '0', 'nothing of the refused body kept');
    },
  ],
];

for (const [index, [title, body]] of steps.entries()) {
  const label = `step ${index + 1} (${title})`;
  const started = Date.now();
  let timer;
  try {
    await Promise.race([
      body(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not finished after ${STEP_TIMEOUT_MS / 1000} s`)), STEP_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    console.error(`FAILED: ${label}:\n  ${err?.stack ?? err}`);
    if (err?.originalResponse) {
      console.error(`  last response: ${err.originalResponse.getStatus()} ${err.originalResponse.getBody()}`);
    }
    process.exit(1);
  } finally {
    clearTimeout(timer);
  }
  console.log(`ok: ${label} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
console.log(`all ${steps.length} steps passed`);
