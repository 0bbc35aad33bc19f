// Screenshots that are checked, not only taken: the file is written by this run, is a PNG of the size the DOM
// gives at that moment, shows more than a blank page, and has the page's background where the DOM says.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { basename } from 'node:path';

import { assert, assertEqual } from './checks.mjs';
import { readPng } from './png.mjs';

/** Fewer colours than this and the screenshot is taken to be blank (text alone gives hundreds). */
const MIN_COLOURS = 64;

/** Fails unless each channel of `actual` is within `tolerance` of `expected` ([r, g, b]). */
export function assertColour(actual, expected, tolerance, what) {
  const off = actual.some((value, i) => Math.abs(value - expected[i]) > tolerance);
  if (off) throw new Error(`${what}: expected about rgb(${expected.join(', ')}), got rgb(${actual.join(', ')})`);
}

/** [r, g, b] from a computed colour, `rgb(1, 2, 3)` or `rgba(1, 2, 3, 1)`. */
export function parseRgb(css) {
  const match = /^rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)$/.exec(css);
  if (!match || (match[4] !== undefined && Number(match[4]) !== 1)) throw new Error(`not an opaque colour: ${css}`);
  return match.slice(1, 4).map(Number);
}

/**
 * Takes a screenshot of `page` (the viewport, or the whole page with `fullPage`) into `path` and checks it.
 * The pixel at (2, 2) must have the page's background colour: the page keeps a margin of its background
 * around its content at every width. Returns the decoded picture, for checks of what it shows.
 */
export async function screenshot(page, path, { fullPage = false } = {}) {
  const name = basename(path);
  const dom = await page.evaluate((full) => ({
    width: full ? document.documentElement.scrollWidth : window.innerWidth,
    height: full ? document.documentElement.scrollHeight : window.innerHeight,
    scale: window.devicePixelRatio,
    background: getComputedStyle(document.body).backgroundColor,
  }), fullPage);
  assertEqual(dom.scale, 1, 'device pixel ratio (screenshot pixels are CSS pixels)');
  // A file left by an earlier run must not pass for this one.
  rmSync(path, { force: true });
  await page.screenshot({ path, fullPage });
  assert(existsSync(path), `${name} was not written`);
  const shot = readPng(readFileSync(path));
  assertEqual(shot.width, dom.width, `${name}: width`);
  assertEqual(shot.height, dom.height, `${name}: height`);
  const colours = shot.distinctColours(MIN_COLOURS);
  assert(colours >= MIN_COLOURS, `${name} shows only ${colours} colours: a blank page?`);
  assertColour(shot.pixel(2, 2), parseRgb(dom.background), 2, `${name}: the page's background at its top-left corner`);
  return shot;
}
