// The upload page's script, served as one file at GET /app.js: src/routes/meta.rs joins the files of
// static/js/ at compile time, in a fixed order (prologue.js first, epilogue.js last); there is no build step.
// This file opens the one function that wraps the whole script and epilogue.js closes it, so the files in
// between share one scope (each uses what the others declare, nothing leaks into the page's globals). Code
// that runs at load, outside a function, must come after the declarations it uses.
//
// The upload page: choose or drop files, send each one to POST /upload with its own progress bar, show what
// the server answered (the stored image from its `location` URL, or the error with its code), and the sample's
// own test: paste any URL and see it in an <img>. No framework; served from this server under a strict CSP
// (no inline script, no eval, no innerHTML with data). Files from `resumable.threshold` (GET /config) on go
// through tus (tus.js) instead, and resume after a dropped connection or a reload.
'use strict';

(() => {
