// Steps on the sample's own test: a URL pasted into the page is shown in an <img>, or the page says it is not
// an image; a stored file's card fills the URL in.
import { assert, assertEqual, check } from '../lib/checks.mjs';
import { card, waitForImage } from '../lib/browser.mjs';
import { KOREAN_PNG } from '../lib/fixtures.mjs';

export async function urlTestSteps(run) {
  const { page } = run;

  await check('the sample\'s test: a pasted URL renders in an <img>', async () => {
    await page.getByTestId('url-input').fill(run.location);
    await page.getByTestId('url-show').click();
    const shown = await waitForImage(page.getByTestId('url-img'));
    assertEqual(shown.src, run.location, 'the pasted URL');
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
    assertEqual(await page.getByTestId('url-input').inputValue(), run.location, 'URL filled');
    await page.locator('[data-testid="url-figure"][data-state="loaded"]').waitFor();
  });
}
