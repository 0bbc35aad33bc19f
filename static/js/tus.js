// Part of GET /app.js (see prologue.js): large files sent through tus 1.0.0 (the server's /files/), so that a
// dropped connection or a reload of the page resumes them instead of starting again. Written from the
// protocol (https://tus.io/protocols/resumable-upload): POST creates the upload, PATCHes append chunks at
// `Upload-Offset`, HEAD says how far the server got, DELETE ends it, and GET describes the stored file as
// POST /upload does. The upload's URL is kept in localStorage under the file's fingerprint, so choosing the
// same file again after a reload continues where the server stopped.

const TUS_VERSION = '1.0.0';
/** Waits before each retry after a network error or a busy server; one more failure then fails the card. */
const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 15000];
/** A request that sends nothing and hears nothing this long is given up and retried. */
const STALL_MS = 30000;
const STORED_PREFIX = 'tus-upload:';

/** Whether `file` goes through tus: the server gives a threshold, and the file reaches it. */
function usesTus(file) {
  const resumable = state.config && state.config.resumable;
  return Boolean(resumable) && resumable.threshold > 0 && file.size >= resumable.threshold;
}

/** The same file chosen again (after a reload, from the same folder) has the same fingerprint. */
function fingerprint(file) {
  return STORED_PREFIX + JSON.stringify([file.name, file.size, file.lastModified, file.type]);
}

function storedUpload(file) {
  try {
    return JSON.parse(localStorage.getItem(fingerprint(file)) || 'null');
  } catch {
    return null;
  }
}

function storeUpload(file, url) {
  try {
    localStorage.setItem(fingerprint(file), JSON.stringify({ url, created: Date.now() }));
  } catch {
    // Storage full or refused: the upload still works, it just cannot resume after a reload.
  }
}

function forgetUpload(file) {
  try {
    localStorage.removeItem(fingerprint(file));
  } catch {
    // Nothing to forget.
  }
}

/** Base64 of a string's UTF-8 bytes, as Upload-Metadata carries values (so Korean names survive). */
function base64Utf8(text) {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** A failure that ends the upload (shown in the card), or a transient one (`retry`) worth another try. */
class TusFailure extends Error {
  constructor(error, retry = false) {
    super(error.message);
    this.error = error;
    this.retry = retry;
  }
}

/**
 * One tus request with XHR, resolving with the XHR once answered (any status). Rejects with a retryable
 * TusFailure when the connection fails or stalls, and with an ABORTED one when the card is cancelled.
 */
function tusRequest(item, method, url, { headers = {}, body = null, onProgress } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    item.xhr = xhr;
    let stalled = false;
    let timer = null;
    const watch = () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        stalled = true;
        xhr.abort();
      }, STALL_MS);
    };
    const settle = (action) => {
      window.clearTimeout(timer);
      if (item.xhr === xhr) item.xhr = null;
      action();
    };
    xhr.upload.addEventListener('progress', (event) => {
      watch();
      if (onProgress) onProgress(event.loaded);
    });
    xhr.addEventListener('load', () => settle(() => resolve(xhr)));
    xhr.addEventListener('error', () => settle(() => reject(new TusFailure({
      code: 'NETWORK_ERROR',
      message: `${method}: the connection to the server failed before it answered.`,
    }, true))));
    xhr.addEventListener('abort', () => settle(() => reject(stalled
      ? new TusFailure({ code: 'NETWORK_ERROR', message: `${method}: nothing moved for ${STALL_MS / 1000} s.` }, true)
      : new TusFailure({ code: 'ABORTED', message: 'Cancelled while uploading.' }))));
    xhr.open(method, url);
    xhr.setRequestHeader('Tus-Resumable', TUS_VERSION);
    xhr.setRequestHeader('Accept', 'application/json');
    const token = sessionStorage.getItem('upload-token');
    if (state.config && state.config.uploadTokenRequired && token) {
      xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    }
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    watch();
    xhr.send(body);
  });
}

/** The error an answer carries (its JSON `error`), retryable when the server is busy or restarting. */
function answerFailure(xhr) {
  let body = null;
  try {
    body = JSON.parse(xhr.responseText);
  } catch {
    body = null;
  }
  const retry = [423, 502, 503, 504].includes(xhr.status);
  if (body && body.error && body.error.code) {
    return new TusFailure({ status: xhr.status, code: body.error.code, message: body.error.message }, retry);
  }
  return new TusFailure({
    status: xhr.status,
    code: xhr.status >= 400 ? `HTTP_${xhr.status}` : 'BAD_RESPONSE',
    message: (xhr.responseText || '').slice(0, 300) || `The server answered ${xhr.status} without a JSON error.`,
  }, retry);
}

/** A number header of an answer, or a BAD_RESPONSE failure. */
function numberHeader(xhr, name) {
  const value = Number(xhr.getResponseHeader(name));
  if (xhr.getResponseHeader(name) === null || !Number.isSafeInteger(value) || value < 0) {
    throw new TusFailure({ status: xhr.status, code: 'BAD_RESPONSE', message: `No valid ${name} in the answer.` });
  }
  return value;
}

/** Waits `ms`, or less when the card is cancelled meanwhile. */
function pause(item, ms) {
  return new Promise((resolve) => {
    const timer = window.setTimeout(resolve, ms);
    item.tus.wake = () => {
      window.clearTimeout(timer);
      resolve();
    };
  });
}

/** Sends one file through tus: resumes its stored upload or creates one, then PATCHes it to the end. */
async function sendTus(item) {
  state.active += 1;
  item.tus = { url: null, offset: 0, lost: false, cancelled: false, finished: false, wake: null };
  item.note.hidden = true;
  setState(item, 'uploading', '올리는 중 · Uploading');
  setProgress(item, 0, 1);
  try {
    const stored = await withRetries(item, () => resumeStored(item));
    if (!stored) await withRetries(item, () => create(item));
    await withRetries(item, () => patchToEnd(item));
    // The stored file, described as POST /upload describes one (423 while the server completes it: retried).
    const xhr = await withRetries(item, async () => {
      const answer = await tusRequest(item, 'GET', item.tus.url);
      if (answer.status !== 200) throw answerFailure(answer);
      return answer;
    });
    const described = JSON.parse(xhr.responseText);
    if (!described || !described.location) throw new TusFailure({ status: xhr.status, code: 'BAD_RESPONSE', message: 'No location in the answer.' });
    forgetUpload(item.file);
    finishTus(item);
    done(item, described, described);
  } catch (failure) {
    finishTus(item);
    // A refusal (a type not allowed, a wrong token...) would come again: only a lost connection resumes later.
    if (!(failure instanceof TusFailure) || (!failure.retry && failure.error.code !== 'NETWORK_ERROR')) forgetUpload(item.file);
    const error = failure instanceof TusFailure
      ? failure.error
      : { code: 'BAD_RESPONSE', message: String(failure && failure.message ? failure.message : failure) };
    fail(item, error);
  }
}

function finishTus(item) {
  item.tus.finished = true;
  item.xhr = null;
  state.active -= 1;
  pump();
}

/** Runs `step` again after each transient failure, waiting longer every time, until it succeeds or fails. */
async function withRetries(item, step) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await step();
    } catch (failure) {
      const retryable = failure instanceof TusFailure && failure.retry && !item.tus.cancelled;
      if (!retryable || attempt >= RETRY_DELAYS_MS.length) throw failure;
      setState(item, 'retrying', `다시 연결하는 중 · Reconnecting (${attempt + 1}/${RETRY_DELAYS_MS.length})`);
      await pause(item, RETRY_DELAYS_MS[attempt]);
      if (item.tus.cancelled) throw new TusFailure({ code: 'ABORTED', message: 'Cancelled while reconnecting.' });
    }
  }
}

/**
 * HEADs the upload stored for this file: true when the server still has it (the offset is where to go on),
 * false when there is none or it is gone (404, 410) or for another length (it is forgotten).
 */
async function resumeStored(item) {
  const stored = storedUpload(item.file);
  if (!stored || typeof stored.url !== 'string' || !stored.url.startsWith(state.config.resumable.endpoint)) return false;
  const xhr = await tusRequest(item, 'HEAD', stored.url);
  if (xhr.status === 404 || xhr.status === 410) {
    forgetUpload(item.file);
    return false;
  }
  if (xhr.status !== 200) throw answerFailure(xhr);
  if (xhr.getResponseHeader('Upload-Length') !== String(item.file.size)) {
    forgetUpload(item.file);
    return false;
  }
  const offset = numberHeader(xhr, 'Upload-Offset');
  item.tus.url = stored.url;
  item.tus.offset = offset;
  if (offset > 0) {
    setProgress(item, offset, item.file.size);
    const percent = Math.floor((offset / item.file.size) * 100);
    item.note.textContent = `이어서 올립니다: ${formatBytes(offset)} (${percent}%)부터 `;
    item.note.append(make('span', { text: `Resumed at ${formatBytes(offset)} (${percent}%)`, attrs: { lang: 'en' } }));
    item.note.hidden = false;
    announce(`이어서 올립니다: ${item.file.name}, ${percent}%`);
  }
  return true;
}

/** POST /files/: a new upload of the file's length, named and typed in Upload-Metadata. */
async function create(item) {
  const { file } = item;
  const metadata = [`filename ${base64Utf8(file.name)}`];
  if (file.type) metadata.push(`filetype ${base64Utf8(file.type)}`);
  const xhr = await tusRequest(item, 'POST', state.config.resumable.endpoint, {
    headers: { 'Upload-Length': String(file.size), 'Upload-Metadata': metadata.join(',') },
  });
  if (xhr.status !== 201) throw answerFailure(xhr);
  const location = xhr.getResponseHeader('Location');
  if (!location) throw new TusFailure({ status: xhr.status, code: 'BAD_RESPONSE', message: 'No Location in the answer.' });
  // Kept as a path on this server (the page only ever talks to its own origin).
  const url = new URL(location, window.location.href);
  item.tus.url = url.pathname;
  item.tus.offset = 0;
  storeUpload(file, item.tus.url);
}

/**
 * PATCHes from the server's offset to the end, each chunk ending on a multiple of `chunkSize` (whole parts);
 * after a transient failure, HEAD learns where the server stopped before going on.
 */
async function patchToEnd(item) {
  const { file } = item;
  const chunk = Math.max(1, state.config.resumable.chunkSize);
  if (item.tus.lost) {
    const head = await tusRequest(item, 'HEAD', item.tus.url);
    if (head.status === 404 || head.status === 410) forgetUpload(file);
    if (head.status !== 200) throw answerFailure(head);
    item.tus.offset = numberHeader(head, 'Upload-Offset');
    item.tus.lost = false;
    setProgress(item, item.tus.offset, file.size);
    setState(item, 'uploading', '올리는 중 · Uploading');
  }
  while (item.tus.offset < file.size) {
    const offset = item.tus.offset;
    const end = Math.min(file.size, (Math.floor(offset / chunk) + 1) * chunk);
    let xhr;
    try {
      xhr = await tusRequest(item, 'PATCH', item.tus.url, {
        headers: { 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset) },
        body: file.slice(offset, end),
        onProgress: (loaded) => {
          setProgress(item, offset + loaded, file.size);
          if (offset + loaded >= file.size) setState(item, 'storing', 'S3에 저장하는 중 · Storing');
        },
      });
    } catch (failure) {
      item.tus.lost = true;
      throw failure;
    }
    if (xhr.status === 409) {
      // The server is elsewhere (an earlier request's bytes arrived after all): ask where, and go on.
      item.tus.lost = true;
      throw new TusFailure(answerFailure(xhr).error, true);
    }
    if (xhr.status !== 204) {
      item.tus.lost = answerFailure(xhr).retry;
      throw answerFailure(xhr);
    }
    item.tus.offset = numberHeader(xhr, 'Upload-Offset');
    setProgress(item, item.tus.offset, file.size);
  }
}

/** Cancels a tus upload: stops its request and ends it on the server (DELETE), forgetting it here. */
function cancelTus(item) {
  item.tus.cancelled = true;
  if (item.tus.wake) item.tus.wake();
  if (item.xhr) item.xhr.abort();
  const url = item.tus.url;
  forgetUpload(item.file);
  if (url) tusRequest({ xhr: null }, 'DELETE', url).catch(() => {});
}
