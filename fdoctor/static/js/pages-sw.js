/*
 * Service worker of the doctor's most-used pages (work list, households, contracts), served from
 * /worklist/pages-sw.js with scope / (the response allows it).
 *
 * Each of these pages is fetched network-first and its last copy kept, so without a network the
 * page opens read-only as it was at the last online visit (offline-pages.js says so and disables
 * the forms). Static files are network-first with the cache as fallback. Nothing else is touched:
 * other pages and every API call go to the network as usual; the tablet page has its own worker.
 */
'use strict';

const CACHE = 'fdoctor-pages-v1';
const PAGES = ['/worklist/', '/households/', '/contracts/'];

function cacheable(response) {
  return response && response.ok && response.type === 'basic' && !response.redirected;
}

self.addEventListener('install', () => self.skipWaiting());

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((n) => n.startsWith('fdoctor-pages-') && n !== CACHE).map((n) => caches.delete(n)));
    await self.clients.claim();
  })());
});

function offlinePage() {
  return new Response(
    '<!doctype html><meta charset="utf-8"><title>离线</title>'
      + '<p>当前离线，且本机还没有保存此页面。请联网后打开一次本页，之后离线也可查看（只读）。</p>',
    { status: 503, headers: { 'Content-Type': 'text/html; charset=utf-8' } },
  );
}

async function networkFirst(request, key, fallback) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (cacheable(response)) await cache.put(key, response.clone());
    return response;
  } catch (err) {
    const cached = (await cache.match(key)) || (await cache.match(key, { ignoreSearch: true }));
    if (cached) return cached;
    return fallback();
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate' && PAGES.includes(url.pathname)) {
    event.respondWith(networkFirst(request, url.pathname + url.search, offlinePage));
  } else if (url.pathname.startsWith('/static/')) {
    event.respondWith(networkFirst(request, url.pathname, () => Response.error()));
  }
});
