// Part of GET /app.js (see prologue.js): a stored file's card (its image from the returned URL, or a link)
// and copying its URL.

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
