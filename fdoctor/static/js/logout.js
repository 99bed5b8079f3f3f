/*
 * Signing out clears the copies of the doctor's pages kept for offline reading (pages-sw.js keeps
 * the work list, households and contracts in Cache Storage): on a shared tablet the next person
 * must not open the previous user's residents offline. The tablet's own queue of unsent records
 * (IndexedDB) is not touched, so nothing recorded offline is lost.
 */
'use strict';

(function () {
  const form = document.getElementById('logout-form');
  if (!form || !('caches' in window)) return;
  let cleared = false;
  form.addEventListener('submit', (event) => {
    if (cleared) return;
    event.preventDefault();
    caches.keys()
      .then((names) => Promise.all(
        names.filter((n) => n.startsWith('fdoctor-pages-')).map((n) => caches.delete(n)),
      ))
      .catch(() => undefined)
      .then(() => {
        cleared = true;
        form.setAttribute('data-pages-cleared', 'yes');
        form.submit();
      });
  });
}());
