// Part of GET /app.js (see prologue.js): the switch between sending files through this server and straight to
// the store, and the page's own small client for the direct way. It speaks the server's /s3 routes (the ones
// Uppy Companion's S3 plugin calls): POST /s3/multipart creates the upload (the server picks the key and the
// type), GET /s3/multipart/<id>/<n> signs each part's PUT, the part goes to the store with XHR (its progress
// fills the card's bar, its ETag is read from the answer), POST .../complete has the server assemble and check
// the object and answer as POST /upload does, and DELETE ends an upload that is cancelled or fails (a part
// whose connection drops, or that gets a 5xx, is tried again first, after tus.js's RETRY_DELAYS_MS). With
// UPLOAD_TOKEN set, POST /s3/ticket first turns the token into a path (/direct/<ticket>) the other calls use.

const MODE_KEY = 'upload-mode';
/** S3 takes at most this many parts: a file too large for them gets larger parts. */
const S3_MAX_PARTS = 10000;
/** Part size when GET /config could not be read. */
const DEFAULT_PART_BYTES = 8 * 1024 * 1024;

/** `server` or `direct`: the visitor's last choice on this browser, else the server's default. */
function uploadMode() {
  let stored = null;
  try {
    stored = localStorage.getItem(MODE_KEY);
  } catch {
    stored = null;
  }
  if (stored === 'server' || stored === 'direct') return stored;
  return (state.config && state.config.direct && state.config.direct.defaultMode) || 'server';
}

/** Shows the switch once the settings are known, set to the current mode; a change is remembered. */
function showModeSwitch() {
  const mode = uploadMode();
  for (const radio of el.modeSwitch.querySelectorAll('input[name="upload-mode"]')) {
    radio.checked = radio.value === mode;
    if (radio.dataset.bound) continue;
    radio.dataset.bound = 'true';
    radio.addEventListener('change', () => {
      if (!radio.checked) return;
      try {
        localStorage.setItem(MODE_KEY, radio.value);
      } catch {
        // Not remembered; the switch still applies to this visit.
      }
      el.modeSwitch.dataset.mode = radio.value;
      announce(radio.value === 'direct' ? 'S3로 바로 올립니다.' : '서버를 거쳐 올립니다.');
    });
  }
  el.modeSwitch.dataset.mode = mode;
  el.modeSwitch.hidden = false;
}

/** Whether a file starting now goes straight to the store. */
function usesDirect() {
  return uploadMode() === 'direct';
}

/** A failure that ends a direct upload, with what the card shows; `retry` when another try may work. */
class DirectFailure extends Error {
  constructor(error, retry = false) {
    super(error.message);
    this.error = error;
    this.retry = retry;
  }
}

/** The Authorization header the server's own routes need, when it asks for a token and one was typed. */
function tokenHeaders() {
  const token = sessionStorage.getItem('upload-token');
  return state.config && state.config.uploadTokenRequired && token ? { Authorization: `Bearer ${token}` } : {};
}

/** One request with XHR (so that a PUT reports progress and cancel can abort it); resolves once answered. */
function directRequest(item, method, url, { headers = {}, body = null, onProgress } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    item.xhr = xhr;
    const settle = (action) => {
      if (item.xhr === xhr) item.xhr = null;
      action();
    };
    if (onProgress) xhr.upload.addEventListener('progress', (event) => onProgress(event.loaded));
    xhr.addEventListener('load', () => settle(() => resolve(xhr)));
    xhr.addEventListener('error', () => settle(() => reject(new DirectFailure({
      code: 'NETWORK_ERROR',
      message: `${method} ${new URL(url, location.href).origin}: the connection failed before an answer.`,
    }, true))));
    xhr.addEventListener('abort', () => settle(() => reject(new DirectFailure({
      code: 'ABORTED',
      message: 'Cancelled while uploading.',
    }))));
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.send(body);
  });
}

/** A call to the server's /s3 routes: JSON in and out; an error answer becomes its code and message. */
async function directJson(item, method, url, payload) {
  const headers = { Accept: 'application/json', ...tokenHeaders() };
  if (payload !== undefined) headers['Content-Type'] = 'application/json';
  const body = payload === undefined ? null : JSON.stringify(payload);
  const xhr = await directRequest(item, method, url, { headers, body });
  let answer = null;
  try {
    answer = JSON.parse(xhr.responseText);
  } catch {
    answer = null;
  }
  if (xhr.status >= 200 && xhr.status < 300 && answer) return answer;
  if (answer && answer.error && answer.error.code) {
    throw new DirectFailure({ status: xhr.status, code: answer.error.code, message: answer.error.message }, xhr.status >= 500);
  }
  throw new DirectFailure({
    status: xhr.status,
    code: xhr.status >= 400 ? `HTTP_${xhr.status}` : 'BAD_RESPONSE',
    message: (xhr.responseText || '').slice(0, 300) || `${method} ${url}: no JSON answer.`,
  });
}

/** Where the /s3 routes are for this page: the server itself, or /direct/<ticket> when a token is required. */
async function directBase(item) {
  if (!(state.config && state.config.uploadTokenRequired)) return '';
  const ticket = await directJson(item, 'POST', '/s3/ticket');
  if (typeof ticket.companionEndpoint !== 'string') {
    throw new DirectFailure({ code: 'BAD_RESPONSE', message: 'POST /s3/ticket gave no companionEndpoint.' });
  }
  return ticket.companionEndpoint;
}

/** The server's part size, larger when the file would need more than S3's 10,000 parts. */
function directPartSize(size) {
  const configured = (state.config && state.config.direct && state.config.direct.partSize) || DEFAULT_PART_BYTES;
  return Math.max(configured, Math.ceil(size / S3_MAX_PARTS));
}

/** PUTs one part to the store with its signed URL; resolves with the part's ETag. */
async function putPart(item, url, blob, onProgress) {
  const xhr = await directRequest(item, 'PUT', url, { body: blob, onProgress });
  if (xhr.status < 200 || xhr.status >= 300) {
    const text = xhr.responseText || '';
    const code = /<Code>([^<]+)<\/Code>/.exec(text);
    throw new DirectFailure({
      status: xhr.status,
      code: 'STORE_ERROR',
      message: `The store refused a part${code ? ` (${code[1]})` : ''}: ${text.slice(0, 200)}`,
    }, xhr.status >= 500);
  }
  const etag = xhr.getResponseHeader('ETag');
  if (!etag) {
    throw new DirectFailure({ code: 'BAD_RESPONSE', message: 'The store answered a part without a readable ETag (CORS ExposeHeaders).' });
  }
  return etag;
}

/** Sends `item` straight to the store, a part at a time, then has the server complete and check it. */
async function sendDirect(item) {
  state.active += 1;
  const job = { cancelled: false, upload: null, base: '', completed: false };
  item.direct = job;
  setState(item, 'uploading', 'S3로 올리는 중 · Uploading to S3');
  item.card.dataset.route = 'direct';
  setProgress(item, 0, 1);
  const file = item.file;
  try {
    job.base = await directBase(item);
    const created = await directJson(item, 'POST', `${job.base}/s3/multipart`, {
      filename: file.name,
      type: file.type || undefined,
    });
    if (!created.uploadId || !created.key) {
      throw new DirectFailure({ code: 'BAD_RESPONSE', message: 'POST /s3/multipart gave no uploadId or key.' });
    }
    job.upload = created;
    const partSize = directPartSize(file.size);
    const count = Math.max(1, Math.ceil(file.size / partSize));
    const parts = [];
    let sent = 0;
    for (let number = 1; number <= count; number += 1) {
      if (job.cancelled) throw new DirectFailure({ code: 'ABORTED', message: 'Cancelled while uploading.' });
      const blob = file.slice((number - 1) * partSize, Math.min(file.size, number * partSize));
      const etag = await retryPart(item, job, async () => {
        const signed = await directJson(item, 'GET', `${uploadPath(job)}/${number}${keyQuery(job)}`);
        return putPart(item, signed.url, blob, (loaded) => setProgress(item, sent + loaded, file.size));
      });
      setState(item, 'uploading', 'S3로 올리는 중 · Uploading to S3');
      sent += blob.size;
      setProgress(item, sent, file.size);
      parts.push({ PartNumber: number, ETag: etag });
    }
    setState(item, 'storing', 'S3에서 확인하는 중 · Completing');
    const stored = await directJson(item, 'POST', `${uploadPath(job)}/complete${keyQuery(job)}`, { parts });
    job.completed = true;
    if (!stored.location) throw new DirectFailure({ code: 'BAD_RESPONSE', message: 'The completion gave no location.' });
    done(item, stored, stored);
  } catch (error) {
    const failure = error instanceof DirectFailure ? error.error : { code: 'BAD_RESPONSE', message: String(error && error.message) };
    if (job.upload && !job.completed) abortDirect(job);
    fail(item, job.cancelled ? { code: 'ABORTED', message: 'Cancelled while uploading.' } : failure);
  } finally {
    item.direct = null;
    item.xhr = null;
    state.active -= 1;
    pump();
  }
}

/**
 * Runs `attempt` (one part: its URL, its PUT) again after a dropped connection or a 5xx, waiting
 * RETRY_DELAYS_MS (tus.js) between tries; one more failure, or a cancel, ends the upload.
 */
async function retryPart(item, job, attempt) {
  for (let tried = 0; ; tried += 1) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof DirectFailure) || !error.retry || job.cancelled || tried >= RETRY_DELAYS_MS.length) throw error;
      setState(item, 'retrying', `다시 시도하는 중 · Retrying (${tried + 1}/${RETRY_DELAYS_MS.length})`);
      await new Promise((done) => window.setTimeout(done, RETRY_DELAYS_MS[tried]));
      if (job.cancelled) throw new DirectFailure({ code: 'ABORTED', message: 'Cancelled while waiting to retry.' });
    }
  }
}

function uploadPath(job) {
  return `${job.base}/s3/multipart/${encodeURIComponent(job.upload.uploadId)}`;
}

function keyQuery(job) {
  return `?key=${encodeURIComponent(job.upload.key)}`;
}

/** DELETE the upload (its parts and the server's record); a failure here is only logged by the server's sweep. */
function abortDirect(job) {
  fetch(`${uploadPath(job)}${keyQuery(job)}`, { method: 'DELETE', headers: tokenHeaders(), keepalive: true }).catch(() => {
    // The server aborts abandoned uploads itself once their URLs expire.
  });
}

/** Cancel: stops the part in flight; sendDirect then deletes the upload and shows it cancelled. */
function cancelDirect(item) {
  item.direct.cancelled = true;
  if (item.xhr) item.xhr.abort();
}
