/*
 * Service worker of the tablet page, served from /services/sw.js with scope /services/tablet.
 *
 * It keeps the page shell (the page, its script, styles and Bootstrap) in a cache so the page
 * opens with no network. The page itself is fetched network-first (a fresh CSRF token and user
 * when online), the assets stale-while-revalidate. API calls are never cached: the page keeps its
 * data in IndexedDB and decides itself what to do offline.
 */
'use strict';

const CACHE = 'fdoctor-tablet-v1';
const PAGE = new URL(self.registration.scope).pathname;
const ASSETS = [
  '/static/js/tablet.js',
  '/static/css/tablet.css',
  '/static/css/app.css',
  '/static/vendor/bootstrap/bootstrap.min.css',
  '/static/vendor/bootstrap/bootstrap.bundle.min.js',
];

// Only a real page goes into the cache: never the login page a redirect would bring.
function cacheable(response) {
  return response && response.ok && response.type === 'basic' && !response.redirected;
}

async function fill() {
  const cache = await caches.open(CACHE);
  await Promise.all([PAGE].concat(ASSETS).map(async (path) => {
    try {
      const response = await fetch(path, { credentials: 'same-origin', cache: 'no-cache' });
      if (cacheable(response)) await cache.put(path, response);
    } catch (err) {
      // Offline while installing: the page fills the cache on its next online visit.
    }
  }));
}

self.addEventListener('install', (event) => {
  event.waitUntil(fill().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((n) => n.startsWith('fdoctor-tablet-') && n !== CACHE).map((n) => caches.delete(n)));
    await self.clients.claim();
  })());
});

async function networkFirstPage(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (cacheable(response)) await cache.put(PAGE, response.clone());
    return response;
  } catch (err) {
    const cached = await cache.match(PAGE);
    if (cached) return cached;
    return new Response(
      '<!doctype html><meta charset="utf-8"><title>离线</title><p>当前离线，且本机还没有保存录入页面。请联网后打开一次本页。</p>',
      { status: 503, headers: { 'Content-Type': 'text/html; charset=utf-8' } },
    );
  }
}

async function staleWhileRevalidate(request, event) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreSearch: true });
  const refresh = fetch(request).then(async (response) => {
    if (cacheable(response)) await cache.put(new URL(request.url).pathname, response.clone());
    return response;
  });
  if (cached) {
    event.waitUntil(refresh.catch(() => undefined));
    return cached;
  }
  return refresh;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate' && url.pathname === PAGE) {
    event.respondWith(networkFirstPage(request));
  } else if (ASSETS.includes(url.pathname)) {
    event.respondWith(staleWhileRevalidate(request, event));
  }
});
