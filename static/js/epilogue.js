// Part of GET /app.js (see prologue.js): the page is ready once every part has run; this closes the wrapper.

document.documentElement.dataset.ready = 'true';
loadConfig();
})();
