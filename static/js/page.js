// Part of GET /app.js (see prologue.js): the page's elements, what it knows, formatting, building elements,
// and announcements for screen readers.

/** How many files are sent at the same time. */
const CONCURRENCY = 2;

const el = {
  dropzone: document.getElementById('dropzone'),
  input: document.getElementById('file-input'),
  limits: document.getElementById('limits'),
  modeSwitch: document.getElementById('upload-mode'),
  notice: document.getElementById('notice'),
  files: document.getElementById('files'),
  announcer: document.getElementById('announcer'),
  fieldName: document.getElementById('field-name'),
  template: document.getElementById('card-template'),
  urlForm: document.getElementById('url-form'),
  urlInput: document.getElementById('url-input'),
  urlStatus: document.getElementById('url-status'),
  urlFigure: document.getElementById('url-figure'),
  urlImg: document.getElementById('url-img'),
  urlCaption: document.getElementById('url-caption'),
};

/** What the page knows of the server's limits (GET /config), and the files waiting for a free slot. */
const state = { config: null, configPromise: null, queue: [], active: 0, seq: 0 };

// ---------------------------------------------------------------------------------------------------------
// Formatting

const numberFormat = new Intl.NumberFormat('ko-KR', { maximumFractionDigits: 1 });

/** 1536 -> "1.5 KB" (binary units, as the server's limits are set). */
function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return '?';
  if (bytes < 1024) return `${numberFormat.format(bytes)} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = -1;
  do {
    value /= 1024;
    unit += 1;
  } while (value >= 1024 && unit < units.length - 1);
  return `${numberFormat.format(value)} ${units[unit]}`;
}

/** "1,000 B" or "100 MB (104,857,600 B)": exact bytes beside a rounded figure. */
function formatLimit(bytes) {
  const exact = `${numberFormat.format(bytes)} B`;
  return bytes < 1024 ? exact : `${formatBytes(bytes)} (${exact})`;
}

/** Builds an element with text content and attributes (never HTML from data). */
function make(tag, { text, className, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

/** Tells screen readers what happened, once. */
function announce(text) {
  el.announcer.textContent = '';
  window.setTimeout(() => {
    el.announcer.textContent = text;
  }, 50);
}
