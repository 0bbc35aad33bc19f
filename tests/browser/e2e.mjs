// End-to-end test of the upload page in the system's headless Chromium, driven by playwright-core.
//
//   E2E_UPLOAD_TOKEN=<token> node tests/browser/e2e.mjs <base-url> <small-limits-base-url> <resumable-base-url> <token-base-url>
//
// <base-url> is a running server with default limits; <small-limits-base-url> one started with
// MAX_FILE_SIZE=1000 and MAX_FILES=2; <resumable-base-url> one with RESUMABLE_THRESHOLD=1048576 and
// UPLOAD_PART_SIZE=5242880 (files from 1 MiB on go through tus); <token-base-url> one with UPLOAD_TOKEN set to
// $E2E_UPLOAD_TOKEN, PAGE_UPLOAD_MODE=direct and MAX_FILE_SIZE=134217728. tests/browser.rs starts all four
// in-process and runs this script.
// The browser may reach 127.0.0.1 only: every host name resolves to nothing, and any request the page makes
// elsewhere is aborted and fails the test. Screenshots go to test-artifacts/ (or $E2E_ARTIFACTS), and each is
// checked against the page it was taken of.
//
// This file starts the browser and runs the steps in order (they share one page, so order matters): steps/
// holds them by concern, lib/ what they share (checks, the browser, the test files, PNGs, screenshots).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launch } from './lib/browser.mjs';
import { assertEqual, check, results } from './lib/checks.mjs';
import { limitSteps } from './steps/limits.mjs';
import { afterUploadSteps, phoneSteps } from './steps/looks.mjs';
import { progressSteps } from './steps/progress.mjs';
import { directSteps } from './steps/direct.mjs';
import { resumableSteps } from './steps/resumable.mjs';
import { uploadSteps } from './steps/uploads.mjs';
import { uppySteps } from './steps/uppy.mjs';
import { urlTestSteps } from './steps/url-test.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const artifacts = resolve(process.env.E2E_ARTIFACTS || join(here, '..', '..', 'test-artifacts'));
const [base, smallBase, resumableBase, tokenBase] = process.argv.slice(2).map((url) => url && url.replace(/\/+$/, ''));
const token = process.env.E2E_UPLOAD_TOKEN;
if (!base || !smallBase || !resumableBase || !tokenBase || !token) {
  console.error('usage: E2E_UPLOAD_TOKEN=<token> node tests/browser/e2e.mjs <base-url> <small-limits-base-url> <resumable-base-url> <token-base-url>');
  process.exit(2);
}
for (const url of [base, smallBase, resumableBase, tokenBase]) {
  if (new URL(url).hostname !== '127.0.0.1') {
    console.error(`refusing to test ${url}: the browser may reach 127.0.0.1 only`);
    process.exit(2);
  }
}

// A hard stop, so that a hung browser never hangs `cargo test`.
const watchdog = setTimeout(() => {
  console.error('e2e: timed out after 330 s');
  process.exit(1);
}, 330_000);

const profile = mkdtempSync(join(tmpdir(), 'e2e-chromium-'));
mkdirSync(artifacts, { recursive: true });
const browser = await launch(profile);
/** What the steps share: the browser, the servers, where screenshots go, and the first upload's URL. */
const run = { ...browser, base, smallBase, resumableBase, tokenBase, token, artifacts, location: null };

try {
  await uploadSteps(run);
  await afterUploadSteps(run);
  await urlTestSteps(run);
  await progressSteps(run);
  await phoneSteps(run);
  await limitSteps(run);
  await resumableSteps(run);
  await directSteps(run);
  await uppySteps(run);

  await check('the page made no request off loopback and logged no error', async () => {
    assertEqual(run.offHost.length, 0, `requests off 127.0.0.1: ${run.offHost.join(', ')}`);
    assertEqual(run.pageErrors.length, 0, `errors: ${run.pageErrors.join(' | ')}`);
  });
} finally {
  await browser.context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  clearTimeout(watchdog);
}

const { passed, failures } = results();
console.log(`\ne2e: ${passed} checks ok, ${failures.length} failing${failures.length ? `: ${failures.join('; ')}` : ''}`);
console.log(`e2e: screenshots in ${artifacts}`);
process.exit(failures.length === 0 ? 0 : 1);
