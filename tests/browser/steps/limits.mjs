// Steps on the server started with MAX_FILE_SIZE=1000 and MAX_FILES=2: files the server would refuse are held
// back with a warning, "Send anyway" shows the server's own answer, and the extra files wait.
import { join } from 'node:path';

import { assert, assertEqual, check } from '../lib/checks.mjs';
import { card, waitForState } from '../lib/browser.mjs';
import { image } from '../lib/fixtures.mjs';
import { screenshot } from '../lib/screenshots.mjs';

export async function limitSteps(run) {
  const { context, smallBase, artifacts } = run;
  const limited = await context.newPage();
  run.watch(limited);

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
    await screenshot(limited, join(artifacts, 'page-limits.png'), { fullPage: true });
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
}
