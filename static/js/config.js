// Part of GET /app.js (see prologue.js): the server's limits (GET /config), the upload token field, and the
// notice above the files.

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
  showModeSwitch();
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
