// The demo page's service worker: keeps the page's own files so that it reloads without a
// network, as a local-first app must (its documents are in IndexedDB, not here).
//
// Network first, so that a page online always gets the files the server has now (a
// `wrangler dev` rebuild shows at once); the cache answers only when the network fails.
// API requests (/v1/, /healthz) are never touched: the SDK handles being offline itself.
const CACHE = 'concord-demo-v1';
const SHELL = ['/', '/app.js', '/style.css', '/assets/concord.js'];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      // One missing file (the SDK bundle not built yet) must not fail the whole install.
      .then((cache) => Promise.all(SHELL.map((url) => cache.add(url).catch(() => undefined))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/v1/') || url.pathname === '/healthz' || url.pathname.startsWith('/dashboard')) return;
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          event.waitUntil(caches.open(CACHE).then((cache) => cache.put(url.pathname === '/index.html' ? '/' : req, copy)));
        }
        return res;
      })
      .catch(async () => {
        const hit = (await caches.match(req, { ignoreSearch: true })) ?? (req.mode === 'navigate' ? await caches.match('/') : undefined);
        return hit ?? Response.error();
      }),
  );
});
