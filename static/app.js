// The upload page: choose or drop files, send each one to POST /upload with its own progress bar, show what
// the server answered (the stored image from its `location` URL, or the error with its code), and the sample's
// own test: paste any URL and see it in an <img>. No framework; served from this server under a strict CSP
// (no inline script, no eval, no innerHTML with data).
'use strict';

(() => {
  /** How many files are sent at the same time. */
  const CONCURRENCY = 2;

  const el = {
    dropzone: document.getElementById('dropzone'),
    input: document.getElementById('file-input'),
    limits: document.getElementById('limits'),
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

  /** Korean and English words for the error codes the server (and this page) use. */
  const ERROR_TITLES = {
    LIMIT_FILE_SIZE: ['파일이 너무 큽니다', 'File too large'],
    LIMIT_FILE_TYPE: ['허용되지 않는 파일 형식입니다', 'File type not allowed'],
    UNAUTHORIZED: ['업로드 토큰이 필요합니다', 'Upload token required'],
    LIMIT_FILE_COUNT: ['파일이 너무 많습니다', 'Too many files'],
    LIMIT_PART_COUNT: ['폼 항목이 너무 많습니다', 'Too many parts'],
    LIMIT_FIELD_COUNT: ['필드가 너무 많습니다', 'Too many fields'],
    LIMIT_FIELD_KEY: ['필드 이름이 너무 깁니다', 'Field name too long'],
    LIMIT_FIELD_VALUE: ['필드 값이 너무 깁니다', 'Field value too long'],
    LIMIT_HEADER_SIZE: ['파트 헤더가 너무 큽니다', 'Part headers too large'],
    LIMIT_UNEXPECTED_FILE: ['예상하지 못한 필드입니다', 'Unexpected field'],
    MISSING_FIELD_NAME: ['필드 이름이 없습니다', 'Missing field name'],
    NO_FILE: ['파일이 없습니다', 'No file'],
    MALFORMED_MULTIPART: ['요청 형식이 잘못되었습니다', 'Malformed request'],
    UNSUPPORTED_MEDIA_TYPE: ['multipart 요청이 아닙니다', 'Not a multipart request'],
    REQUEST_TIMEOUT: ['전송이 멈췄습니다', 'Upload stalled'],
    BODY_READ_FAILED: ['전송이 중간에 끊겼습니다', 'Upload interrupted'],
    STORE_UNAVAILABLE: ['저장소에 연결할 수 없습니다', 'Storage unreachable'],
    STORE_ACCESS_DENIED: ['저장소가 접근을 거부했습니다', 'Storage access denied'],
    STORE_NO_SUCH_BUCKET: ['버킷이 없습니다', 'No such bucket'],
    STORE_ACL_NOT_SUPPORTED: ['버킷이 ACL을 지원하지 않습니다', 'Bucket does not support ACLs'],
    STORE_ERROR: ['저장소가 업로드를 거부했습니다', 'Storage refused the upload'],
    INTERNAL_ERROR: ['서버 오류', 'Server error'],
    NETWORK_ERROR: ['서버에 연결하지 못했습니다', 'Could not reach the server'],
    ABORTED: ['업로드를 취소했습니다', 'Upload cancelled'],
    BAD_RESPONSE: ['서버 응답을 이해하지 못했습니다', 'Unexpected answer from the server'],
  };

  function errorTitle(code) {
    const [ko, en] = ERROR_TITLES[code] || ['업로드 실패', 'Upload failed'];
    return { ko, en };
  }

  /** Tells screen readers what happened, once. */
  function announce(text) {
    el.announcer.textContent = '';
    window.setTimeout(() => {
      el.announcer.textContent = text;
    }, 50);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Limits

  /** GET /config once (again after a failure); resolves to null when it cannot be read. */
  function loadConfig() {
    if (!state.configPromise) {
      state.configPromise = fetch('/config', { headers: { Accept: 'application/json' }, cache: 'no-store' })
        .then((response) => {
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          return response.json();
        })
        .then((config) => {
          state.config = config;
          showLimits(config);
          return config;
        })
        .catch((error) => {
          state.configPromise = null;
          el.limits.textContent = '';
          el.limits.append(
            `업로드 한도를 읽지 못했습니다 (${error.message}). 서버가 업로드할 때 직접 확인합니다. `,
            make('span', { text: 'Could not read the limits; the server still checks them.', attrs: { lang: 'en' } }),
          );
          return null;
        });
    }
    return state.configPromise;
  }

  function showLimits(config) {
    el.fieldName.textContent = config.fieldName;
    el.limits.textContent = '';
    el.limits.append(
      '파일당 최대 ',
      make('strong', { text: formatLimit(config.maxFileSize), attrs: { 'data-testid': 'max-file-size' } }),
      ', 한 번에 최대 ',
      make('strong', { text: `${numberFormat.format(config.maxFiles)}개`, attrs: { 'data-testid': 'max-files' } }),
      '. ',
      make('span', {
        text: `Up to ${formatBytes(config.maxFileSize)} per file, ${config.maxFiles} files at a time.`,
        attrs: { lang: 'en' },
      }),
    );
    if (config.allowedTypes && config.allowedTypes.length) {
      el.limits.append(
        ' 허용 형식 ',
        make('span', { text: 'Allowed types', attrs: { lang: 'en' } }),
        ': ',
        make('strong', { text: config.allowedTypes.join(', '), attrs: { 'data-testid': 'allowed-types' } }),
        '.',
      );
    }
    if (config.uploadTokenRequired) showTokenField();
  }

  /** A field for the upload token when the server asks for one (UPLOAD_TOKEN); kept for this tab only. */
  function showTokenField() {
    if (document.getElementById('upload-token')) return;
    const input = make('input', {
      attrs: { id: 'upload-token', type: 'password', autocomplete: 'off', 'data-testid': 'upload-token' },
    });
    input.value = sessionStorage.getItem('upload-token') || '';
    input.addEventListener('input', () => sessionStorage.setItem('upload-token', input.value));
    const label = make('label', { attrs: { for: 'upload-token' } });
    label.append('업로드 토큰 ', make('span', { text: 'Upload token', attrs: { lang: 'en' } }), ' ');
    const row = make('p', { attrs: { class: 'hint' } });
    row.append(label, input);
    el.limits.after(row);
  }

  function showNotice(parts) {
    el.notice.textContent = '';
    el.notice.append(...parts);
    el.notice.hidden = false;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Cards

  /** One file on the page: its card and, while it is sent, its request. */
  function createItem(file) {
    state.seq += 1;
    const id = `file-${state.seq}`;
    const card = el.template.content.firstElementChild.cloneNode(true);
    card.id = id;
    const $ = (testid) => card.querySelector(`[data-testid="${testid}"]`);
    const item = {
      id,
      file,
      card,
      thumb: $('thumb'),
      name: $('file-name'),
      meta: $('file-meta'),
      progress: $('progress'),
      progressText: $('progress-text'),
      state: $('file-state'),
      message: $('file-message'),
      url: $('file-url'),
      copy: null,
      actions: $('actions'),
      json: $('file-json'),
      xhr: null,
      previewUrl: null,
    };
    item.name.textContent = file.name;
    item.name.title = file.name;
    item.meta.textContent = `${formatBytes(file.size)} · ${file.type || '알 수 없는 형식 (unknown type)'}`;
    item.progress.setAttribute('aria-label', `업로드 진행률 (upload progress): ${file.name}`);
    item.url.setAttribute('aria-label', `URL: ${file.name}`);
    if (file.type.startsWith('image/')) {
      item.previewUrl = URL.createObjectURL(file);
      item.thumb.append(
        make('img', { className: 'preview', attrs: { src: item.previewUrl, alt: `미리보기 (preview): ${file.name}`, 'data-testid': 'preview' } }),
      );
    } else {
      item.thumb.append(fileBadge(file.name));
    }
    setProgress(item, 0, 1);
    el.files.prepend(card);
    return item;
  }

  /** A badge with the file's extension, for files that are not images. */
  function fileBadge(name) {
    const dot = name.lastIndexOf('.');
    const ext = dot > 0 && name.length - dot <= 6 ? name.slice(dot + 1).toUpperCase() : 'FILE';
    return make('span', { className: 'badge', text: ext, attrs: { 'aria-hidden': 'true' } });
  }

  function setState(item, name, text) {
    item.card.dataset.state = name;
    item.state.textContent = text;
  }

  function setProgress(item, loaded, total) {
    const fraction = total > 0 ? Math.min(1, loaded / total) : 0;
    const percent = Math.floor(fraction * 100);
    const sent = Math.round(fraction * item.file.size);
    item.progress.value = percent;
    const text = `${formatBytes(sent)} / ${formatBytes(item.file.size)} · ${percent}%`;
    item.progressText.textContent = text;
    item.progress.setAttribute('aria-valuetext', text);
  }

  function setActions(item, buttons) {
    item.actions.textContent = '';
    for (const button of buttons) item.actions.append(button);
  }

  /** A button; `fileName` goes into its accessible name, so that "Remove" says which file. */
  function button(text, en, testid, onClick, fileName) {
    const node = make('button', { className: 'button', text: `${text} `, attrs: { type: 'button', 'data-testid': testid } }, [
      make('span', { text: en, attrs: { lang: 'en' } }),
    ]);
    if (fileName) node.setAttribute('aria-label', `${text} (${en}): ${fileName}`);
    node.addEventListener('click', onClick);
    return node;
  }

  function removeButton(item) {
    return button('지우기', 'Remove', 'remove', () => {
      if (item.previewUrl) URL.revokeObjectURL(item.previewUrl);
      const next = item.card.nextElementSibling || item.card.previousElementSibling;
      item.card.remove();
      refreshNotice();
      (next ? next.querySelector('button') : el.dropzone)?.focus();
    }, item.file.name);
  }

  /** Shows an error or a warning in the card: its code, what it means, and the server's own message. */
  function showMessage(item, kind, { code, status, message, detail }) {
    const { ko, en } = errorTitle(code);
    item.message.textContent = '';
    item.message.className = `message ${kind}`;
    item.message.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    item.message.append(
      make('p', { className: 'message-title' }, [
        make('code', { className: 'code', text: code, attrs: { 'data-testid': 'error-code' } }),
        ` ${ko} · `,
        make('span', { text: en, attrs: { lang: 'en' } }),
        status ? make('span', { className: 'status', text: ` (HTTP ${status})` }) : '',
      ]),
    );
    if (detail) item.message.append(make('p', { text: detail }));
    if (message) {
      item.message.append(make('p', { className: 'server-message', attrs: { lang: 'en', 'data-testid': 'error-message' }, text: message }));
    }
    item.message.hidden = false;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Choosing files

  /** Takes files from the picker, a drop or a paste: checks them against the limits, then queues them. */
  async function addFiles(fileList) {
    const files = Array.from(fileList || []);
    if (files.length === 0) return;
    const config = await loadConfig();
    let accepted = 0;
    let tooBig = 0;
    let tooMany = 0;
    for (const file of files) {
      const item = createItem(file);
      if (config && file.size > config.maxFileSize) {
        tooBig += 1;
        hold(item, {
          code: 'LIMIT_FILE_SIZE',
          detail: `이 파일(${formatBytes(file.size)})은 서버 한도 ${formatLimit(config.maxFileSize)}보다 커서 보내지 않았습니다. 보내면 서버가 거절합니다.`,
          message: `Not sent: ${file.size} bytes is over the server's limit of ${config.maxFileSize} bytes (checked in the browser).`,
        });
      } else if (config && accepted >= config.maxFiles) {
        tooMany += 1;
        hold(item, {
          code: 'LIMIT_FILE_COUNT',
          detail: `한 번에 최대 ${config.maxFiles}개까지 올립니다. 이 파일은 보내지 않았습니다.`,
          message: `Not sent: at most ${config.maxFiles} files at a time.`,
        });
      } else {
        accepted += 1;
        enqueue(item);
      }
    }
    if (tooBig || tooMany) {
      const parts = [];
      if (tooBig) parts.push(`${tooBig}개 파일이 한도 ${formatLimit(config.maxFileSize)}보다 큽니다 (LIMIT_FILE_SIZE). `);
      if (tooMany) parts.push(`한 번에 ${config.maxFiles}개까지만 올립니다: ${tooMany}개는 보내지 않았습니다 (LIMIT_FILE_COUNT). `);
      parts.push(make('span', { text: 'Some files were held back; "Send anyway" lets the server decide.', attrs: { lang: 'en' } }));
      showNotice(parts);
    } else {
      el.notice.hidden = true;
    }
    announce(`${files.length}개 파일을 추가했습니다. ${accepted}개를 업로드합니다.`);
  }

  /** A file the page did not send because the server would refuse it. */
  function hold(item, warning) {
    setState(item, 'held', '보내지 않음 · Not sent');
    item.progress.hidden = true;
    item.progressText.hidden = true;
    showMessage(item, 'warning', warning);
    setActions(item, [
      button('그래도 보내기', 'Send anyway', 'send-anyway', () => {
        item.message.hidden = true;
        item.progress.hidden = false;
        item.progressText.hidden = false;
        enqueue(item);
      }, item.file.name),
      removeButton(item),
    ]);
  }

  /** Hides the warning about held-back files once none is left waiting. */
  function refreshNotice() {
    if (!el.files.querySelector('[data-state="held"]')) el.notice.hidden = true;
  }

  function enqueue(item) {
    setState(item, 'queued', '대기 중 · Queued');
    setActions(item, [button('취소', 'Cancel', 'cancel', () => cancel(item), item.file.name)]);
    state.queue.push(item);
    refreshNotice();
    pump();
  }

  function cancel(item) {
    const queued = state.queue.indexOf(item);
    if (queued >= 0) {
      state.queue.splice(queued, 1);
      fail(item, { code: 'ABORTED', message: 'Cancelled before it was sent.' });
    } else if (item.xhr) {
      item.xhr.abort();
    }
  }

  function pump() {
    while (state.active < CONCURRENCY && state.queue.length > 0) {
      send(state.queue.shift());
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Sending

  /** POST /upload with one file, reporting progress from the request's upload events. */
  function send(item) {
    state.active += 1;
    const fieldName = (state.config && state.config.fieldName) || 'photos';
    const form = new FormData();
    form.append(fieldName, item.file, item.file.name);
    const xhr = new XMLHttpRequest();
    item.xhr = xhr;
    setState(item, 'uploading', '올리는 중 · Uploading');
    setProgress(item, 0, 1);
    let finished = false;
    const finish = () => {
      if (finished) return false;
      finished = true;
      item.xhr = null;
      state.active -= 1;
      pump();
      return true;
    };
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) setProgress(item, event.loaded, event.total);
    });
    xhr.upload.addEventListener('load', () => {
      setProgress(item, 1, 1);
      if (!finished) setState(item, 'storing', 'S3에 저장하는 중 · Storing');
    });
    xhr.addEventListener('load', () => {
      if (finish()) handleAnswer(item, xhr);
    });
    xhr.addEventListener('error', () => {
      if (finish()) {
        fail(item, { code: 'NETWORK_ERROR', message: 'The connection to the server failed before it answered.' });
      }
    });
    xhr.addEventListener('abort', () => {
      if (finish()) fail(item, { code: 'ABORTED', message: 'Cancelled while uploading.' });
    });
    xhr.open('POST', '/upload');
    xhr.setRequestHeader('Accept', 'application/json');
    const token = sessionStorage.getItem('upload-token');
    if (state.config && state.config.uploadTokenRequired && token) {
      xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    }
    xhr.send(form);
  }

  function handleAnswer(item, xhr) {
    let body = null;
    try {
      body = JSON.parse(xhr.responseText);
    } catch {
      body = null;
    }
    if (xhr.status >= 200 && xhr.status < 300 && Array.isArray(body) && body.length > 0 && body[0].location) {
      done(item, body[0], body);
    } else if (body && body.error && body.error.code) {
      fail(item, { status: xhr.status, code: body.error.code, message: body.error.message });
    } else {
      fail(item, {
        status: xhr.status,
        code: xhr.status >= 400 ? `HTTP_${xhr.status}` : 'BAD_RESPONSE',
        message: (xhr.responseText || '').slice(0, 300) || 'The server sent no JSON answer.',
      });
    }
  }

  function fail(item, error) {
    setState(item, 'error', error.code === 'ABORTED' ? '취소됨 · Cancelled' : '실패 · Failed');
    showMessage(item, 'error', error);
    setActions(item, [button('다시 보내기', 'Retry', 'retry', () => {
      item.message.hidden = true;
      enqueue(item);
    }, item.file.name), removeButton(item)]);
    announce(`업로드 실패: ${item.file.name} (${error.code})`);
  }

  /** Shows the stored file: the image from its URL (the point of the sample) or a link, and the answer. */
  function done(item, stored, answer) {
    setProgress(item, 1, 1);
    setState(item, 'done', '저장됨 · Stored');
    item.message.hidden = true;
    const name = stored.originalname || item.file.name;
    const type = stored.contentType || stored.mimetype || item.file.type;
    item.name.textContent = name;
    item.name.title = name;
    item.meta.textContent = `${formatBytes(Number(stored.size))} · ${type}`;
    item.card.dataset.location = stored.location;
    item.url.value = stored.location;
    item.url.hidden = false;
    item.url.title = stored.location;
    item.json.querySelector('pre').textContent = JSON.stringify(answer, null, 2);
    item.json.hidden = false;

    item.thumb.textContent = '';
    if (type.startsWith('image/')) {
      const img = make('img', {
        className: 'result',
        attrs: { src: stored.location, alt: `업로드한 이미지 (uploaded image): ${name}`, 'data-testid': 'result-img', decoding: 'async' },
      });
      img.addEventListener('load', () => {
        item.card.dataset.image = 'loaded';
        if (item.previewUrl) URL.revokeObjectURL(item.previewUrl);
      });
      img.addEventListener('error', () => {
        item.card.dataset.image = 'failed';
        showMessage(item, 'warning', {
          code: 'IMAGE_LOAD_FAILED',
          detail: '저장은 되었지만 이 URL에서 이미지를 불러오지 못했습니다. 버킷이 공개 읽기를 허용하는지 확인하세요.',
          message: 'Stored, but the image did not load from its URL: is the bucket publicly readable?',
        });
      });
      const link = make('a', { attrs: { href: stored.location, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'result-link' } }, [img]);
      item.thumb.append(link);
    } else {
      item.thumb.append(fileBadge(name));
      if (item.previewUrl) URL.revokeObjectURL(item.previewUrl);
    }

    const open = make('a', {
      className: 'button',
      text: '열기 ',
      attrs: {
        href: stored.location,
        target: '_blank',
        rel: 'noopener noreferrer',
        'data-testid': 'file-link',
        'aria-label': `열기 (open, new tab): ${name}`,
      },
    }, [make('span', { text: 'Open', attrs: { lang: 'en' } })]);
    const tryIt = button('URL 테스트', 'Test', 'try-url', () => {
      el.urlInput.value = stored.location;
      showUrl();
      el.urlInput.focus();
      el.urlInput.scrollIntoView({ block: 'center', behavior: 'smooth' });
    }, name);
    item.copy = button('URL 복사', 'Copy URL', 'copy-url', () => copyUrl(item), name);
    item.copy.classList.add('primary');
    setActions(item, [item.copy, open, tryIt, removeButton(item)]);
    announce(`업로드 완료: ${name}`);
  }

  async function copyUrl(item) {
    const url = item.url.value;
    let copied = false;
    try {
      await navigator.clipboard.writeText(url);
      copied = true;
    } catch {
      item.url.select();
      copied = document.execCommand('copy');
    }
    const label = item.copy.firstChild;
    const before = label.textContent;
    label.textContent = copied ? '복사했습니다 ' : '직접 복사하세요 ';
    item.copy.dataset.copied = String(copied);
    announce(copied ? 'URL을 복사했습니다.' : 'URL을 선택했습니다. 직접 복사하세요.');
    window.setTimeout(() => {
      label.textContent = before;
      delete item.copy.dataset.copied;
    }, 2000);
  }

  // ---------------------------------------------------------------------------------------------------------
  // The drop zone, the picker, pasting files

  function openPicker() {
    el.input.click();
  }

  el.dropzone.addEventListener('click', openPicker);
  el.dropzone.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      openPicker();
    }
  });
  el.input.addEventListener('change', () => {
    const files = Array.from(el.input.files);
    el.input.value = '';
    addFiles(files);
  });

  // Files dropped anywhere on the page are taken (instead of the browser opening them).
  let dragDepth = 0;
  const hasFiles = (event) => Array.from(event.dataTransfer?.types || []).includes('Files');
  document.addEventListener('dragenter', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth += 1;
    el.dropzone.classList.add('dragging');
  });
  document.addEventListener('dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  document.addEventListener('dragleave', () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) el.dropzone.classList.remove('dragging');
  });
  document.addEventListener('drop', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    el.dropzone.classList.remove('dragging');
    addFiles(event.dataTransfer.files);
  });

  // A pasted image (e.g. a screenshot) is uploaded, unless the paste goes into a text field.
  document.addEventListener('paste', (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
    const files = event.clipboardData?.files;
    if (files && files.length > 0) {
      event.preventDefault();
      addFiles(files);
    }
  });

  // ---------------------------------------------------------------------------------------------------------
  // The sample's test: any URL in an <img>

  function showUrl() {
    const raw = el.urlInput.value.trim();
    el.urlStatus.className = 'url-status';
    if (!raw) {
      el.urlStatus.textContent = 'URL을 입력하세요. · Enter a URL.';
      el.urlStatus.classList.add('error');
      el.urlInput.focus();
      return;
    }
    let url;
    try {
      url = new URL(raw, window.location.href);
    } catch {
      url = null;
    }
    if (!url || !['http:', 'https:', 'data:', 'blob:'].includes(url.protocol)) {
      el.urlStatus.textContent = '올바른 이미지 URL이 아닙니다. · Not a valid image URL.';
      el.urlStatus.classList.add('error');
      el.urlInput.setAttribute('aria-invalid', 'true');
      el.urlInput.focus();
      return;
    }
    el.urlInput.removeAttribute('aria-invalid');
    el.urlStatus.textContent = '불러오는 중… · Loading…';
    el.urlFigure.hidden = false;
    el.urlFigure.dataset.state = 'loading';
    el.urlImg.alt = `URL 테스트 이미지 (image at): ${url.href}`;
    el.urlCaption.textContent = url.href;
    el.urlImg.src = url.href;
  }

  el.urlImg.addEventListener('load', () => {
    if (!el.urlImg.getAttribute('src')) return;
    el.urlFigure.dataset.state = 'loaded';
    el.urlStatus.className = 'url-status ok';
    el.urlStatus.textContent = `이미지를 불러왔습니다 (${el.urlImg.naturalWidth}×${el.urlImg.naturalHeight}). · The image rendered.`;
  });
  el.urlImg.addEventListener('error', () => {
    if (!el.urlImg.getAttribute('src')) return;
    el.urlFigure.dataset.state = 'failed';
    el.urlStatus.className = 'url-status error';
    el.urlStatus.textContent = '이 URL에서 이미지를 불러오지 못했습니다. · No image could be loaded from this URL.';
  });
  el.urlForm.addEventListener('submit', (event) => {
    event.preventDefault();
    showUrl();
  });

  document.documentElement.dataset.ready = 'true';
  loadConfig();
})();
