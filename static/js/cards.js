// Part of GET /app.js (see prologue.js): one card per file, its progress bar, state and buttons.

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
    note: $('file-note'),
    message: $('file-message'),
    url: $('file-url'),
    copy: null,
    actions: $('actions'),
    json: $('file-json'),
    xhr: null,
    tus: null,
    direct: null,
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
