// Steps on the server with default limits: the page, its limits, and files uploaded every way the page takes
// them (the file input, the keyboard and the file picker, a drop), each shown from the URL the server returned.
import { assert, assertEqual, check } from '../lib/checks.mjs';
import { card, waitForImage, waitForState } from '../lib/browser.mjs';
import { DROPPED_PNG, KEYBOARD_PNG, KOREAN_PNG, KOREAN_TXT, image } from '../lib/fixtures.mjs';
import { png } from '../lib/png.mjs';

/** Runs the steps; sets `run.location` to the URL the first picture was stored at. */
export async function uploadSteps(run) {
  const { page, base } = run;

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
    const location = await item.getAttribute('data-location');
    run.location = location;
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
    assertEqual(await page.evaluate(() => navigator.clipboard.readText()), run.location, 'clipboard');
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
    const chooser = await run.nextFileChooser();
    assert(chooser.isMultiple(), 'several files at once');
    await chooser.setFiles({ name: KEYBOARD_PNG, mimeType: 'image/png', buffer: png(90, 60) });
    const item = card(page, KEYBOARD_PNG);
    await waitForState(item, 'done');
    const loaded = await waitForImage(item.getByTestId('result-img'));
    assertEqual(`${loaded.width}x${loaded.height}`, '90x60', 'the chosen picture shown');
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
    const loaded = await waitForImage(item.getByTestId('result-img'));
    assertEqual(`${loaded.width}x${loaded.height}`, '60x40', 'the dropped picture shown');
  });
}
