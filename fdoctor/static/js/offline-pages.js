/*
 * The work list, households and contracts pages offline: registers pages-sw.js (which keeps the
 * last copy of each page) and, when the page is shown without a network, says it is read-only and
 * from when, and disables its forms.
 */
(function () {
  'use strict';

  var script = document.currentScript;
  var key = 'fdoctor-page-saved:' + window.location.pathname + window.location.search;

  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function stamp(d) {
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  function readOnly() {
    var main = document.querySelector('main') || document.body;
    if (!document.getElementById('offline-banner')) {
      var saved = null;
      try { saved = window.localStorage.getItem(key); } catch (err) { saved = null; }
      var banner = document.createElement('div');
      banner.id = 'offline-banner';
      banner.className = 'alert alert-warning';
      banner.setAttribute('role', 'status');
      banner.textContent = '当前离线，只读：显示的是' + (saved ? ' ' + saved + ' ' : '上次') +
        '联网时保存的内容。联网后可查询、修改和签约。';
      main.insertBefore(banner, main.firstChild);
    }
    document.querySelectorAll('form').forEach(function (form) {
      if (form.closest('nav')) { return; }
      form.querySelectorAll('input, select, textarea, button').forEach(function (el) { el.disabled = true; });
    });
  }

  function online() {
    var banner = document.getElementById('offline-banner');
    if (!banner || !navigator.onLine) { return; }
    banner.className = 'alert alert-info';
    banner.textContent = '已恢复联网。';
    var again = document.createElement('a');
    again.href = window.location.href;
    again.textContent = '刷新页面以查看最新内容并修改';
    banner.appendChild(again);
  }

  if (navigator.onLine) {
    try { window.localStorage.setItem(key, stamp(new Date())); } catch (err) { /* private mode */ }
  } else {
    readOnly();
  }
  window.addEventListener('offline', readOnly);
  window.addEventListener('online', online);

  if ('serviceWorker' in navigator && script) {
    navigator.serviceWorker.register(script.getAttribute('data-sw'), { scope: '/' }).then(function () {
      document.documentElement.setAttribute('data-pages-sw', 'registered');
    }).catch(function (err) {
      console.warn('offline pages not available:', err);
    });
  }
})();
