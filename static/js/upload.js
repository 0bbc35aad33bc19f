// Part of GET /app.js (see prologue.js): POST /upload with its progress, and what the server answered.

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
