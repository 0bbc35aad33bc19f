// Part of GET /app.js (see prologue.js): files chosen, checked against the limits, held back or queued,
// and sent CONCURRENCY at a time (large files through tus, see tus.js; all of them straight to the store in
// direct mode, see direct.js).

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
  } else if (item.direct) {
    cancelDirect(item);
  } else if (item.tus && !item.tus.finished) {
    cancelTus(item);
  } else if (item.xhr) {
    item.xhr.abort();
  }
}

function pump() {
  while (state.active < CONCURRENCY && state.queue.length > 0) {
    const item = state.queue.shift();
    if (usesDirect()) sendDirect(item);
    else if (usesTus(item.file)) sendTus(item);
    else send(item);
  }
}
