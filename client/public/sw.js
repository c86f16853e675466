/**
 * hoichan's service worker (scope '/'): keeps the app shell so the page opens on a reload while the
 * clinic is offline, and wakes the page's outbox sender through Background Sync where the browser
 * has it (client/src/offline/). It never touches the API: /api, /fhir and /socket.io go straight
 * to the network (the outbox, not this cache, is what keeps unsent consult requests).
 * Plain JavaScript served as a static asset (client/public → client/dist), with no long cache.
 */
/* eslint-env serviceworker */
const SHELL_CACHE = 'hoichan-shell-v1';
const SYNC_TAG = 'hoichan-outbox';
/** A navigation waits this long for the network before the cached shell is used (a dead link may not fail at once). */
const NAVIGATION_TIMEOUT_MS = 3000;

const isApi = (url) =>
  /^\/(api|fhir|socket\.io)(\/|$)/.test(url.pathname) || url.pathname === '/healthz' || url.pathname === '/readyz' || url.pathname === '/metrics';

/** The shell: index.html and the hashed scripts and styles it names. */
async function cacheShell() {
  const cache = await caches.open(SHELL_CACHE);
  const res = await fetch('/index.html', { cache: 'no-cache' });
  if (!res.ok) return;
  const html = await res.clone().text();
  await cache.put('/index.html', res);
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
  await cache.addAll(assets);
}

self.addEventListener('install', (event) => {
  event.waitUntil(cacheShell().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== SHELL_CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

/** Network first (a fresh index.html names the current build), the cached shell when there is no answer in time. */
async function navigation(request) {
  const cache = await caches.open(SHELL_CACHE);
  const network = fetch(request).then(async (res) => {
    if (res.ok && (res.headers.get('content-type') || '').includes('text/html')) await cache.put('/index.html', res.clone());
    return res;
  });
  const timeout = new Promise((resolve) => setTimeout(resolve, NAVIGATION_TIMEOUT_MS, null));
  try {
    const res = await Promise.race([network, timeout]);
    if (res) return res;
  } catch {
    /* no network: the shell */
  }
  const shell = await cache.match('/index.html');
  return shell || network;
}

/** Hashed build files never change: the cache first, kept as they are fetched (lazy chunks too). */
async function asset(request) {
  const cache = await caches.open(SHELL_CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  const res = await fetch(request);
  if (res.ok) await cache.put(request, res.clone());
  return res;
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || isApi(url)) return;
  if (request.mode === 'navigate') event.respondWith(navigation(request));
  else if (url.pathname.startsWith('/assets/')) event.respondWith(asset(request));
});

/** Background Sync: the link is back; the open pages send their outboxes (they hold the doctor's session). */
self.addEventListener('sync', (event) => {
  if (event.tag !== SYNC_TAG) return;
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((clients) => {
      for (const client of clients) client.postMessage({ type: 'hoichan-outbox-drain' });
    }),
  );
});
