// Part of GET /app.js (see prologue.js): the drop zone, the file picker, files dropped or pasted.

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
