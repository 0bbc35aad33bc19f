// Part of GET /app.js (see prologue.js): the error codes' titles, and an error or warning shown in a card.
// tests/api/page.rs keeps ERROR_TITLES' keys in step with the server's codes (error::all_codes()).

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
  FILE_EXISTS: ['같은 이름의 파일이 이미 있습니다', 'File already exists'],
  SERVER_BUSY: ['서버가 바쁩니다', 'Server busy'],
  SHUTTING_DOWN: ['서버가 종료되는 중입니다', 'Server shutting down'],
  STORE_UNAVAILABLE: ['저장소에 연결할 수 없습니다', 'Storage unreachable'],
  STORE_ACCESS_DENIED: ['저장소가 접근을 거부했습니다', 'Storage access denied'],
  STORE_NO_SUCH_BUCKET: ['버킷이 없습니다', 'No such bucket'],
  STORE_ACL_NOT_SUPPORTED: ['버킷이 ACL을 지원하지 않습니다', 'Bucket does not support ACLs'],
  STORE_ERROR: ['저장소가 업로드를 거부했습니다', 'Storage refused the upload'],
  INTERNAL_ERROR: ['서버 오류', 'Server error'],
  NOT_FOUND: ['주소를 찾을 수 없습니다', 'Not found'],
  METHOD_NOT_ALLOWED: ['허용되지 않는 요청 방식입니다', 'Method not allowed'],
  TUS_VERSION_UNSUPPORTED: ['지원하지 않는 tus 버전입니다', 'Unsupported tus version'],
  UPLOAD_NOT_FOUND: ['업로드를 찾을 수 없습니다', 'Upload not found'],
  INVALID_TUS_HEADER: ['tus 헤더가 잘못되었습니다', 'Invalid tus header'],
  OFFSET_MISMATCH: ['업로드 위치가 맞지 않습니다', 'Upload offset mismatch'],
  UPLOAD_LOCKED: ['다른 요청이 업로드 중입니다', 'Upload in use by another request'],
  CHECKSUM_MISMATCH: ['체크섬이 맞지 않습니다', 'Checksum mismatch'],
  CHECKSUM_UNSUPPORTED: ['지원하지 않는 체크섬입니다', 'Unsupported checksum'],
  INVALID_PARTS: ['업로드 조각 목록이 잘못되었습니다', 'Invalid list of parts'],
  MULTIPART_REQUIRED: ['이 파일은 조각 업로드로만 보낼 수 있습니다', 'Send this file as a multipart upload'],
  NETWORK_ERROR: ['서버에 연결하지 못했습니다', 'Could not reach the server'],
  ABORTED: ['업로드를 취소했습니다', 'Upload cancelled'],
  BAD_RESPONSE: ['서버 응답을 이해하지 못했습니다', 'Unexpected answer from the server'],
  IMAGE_LOAD_FAILED: ['이미지를 불러오지 못했습니다', 'Image did not load'],
};

function errorTitle(code) {
  const [ko, en] = ERROR_TITLES[code] || ['업로드 실패', 'Upload failed'];
  return { ko, en };
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
