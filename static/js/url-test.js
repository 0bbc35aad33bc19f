// Part of GET /app.js (see prologue.js): the sample's own test, any URL shown in an <img>.

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
