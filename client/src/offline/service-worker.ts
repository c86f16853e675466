/**
 * Registers client/public/sw.js (scope '/') in built clients: the app shell opens on a reload
 * while offline, and Background Sync wakes the outbox sender. Not in development (vite's module
 * graph changes on every edit), and the outbox works without it.
 */
export function registerServiceWorker(): void {
  if (!__HOICHAN_REGISTER_SW__ || !('serviceWorker' in navigator)) return;
  const register = () => void navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => undefined);
  // After the page's own loads, so the shell's caching does not compete with them.
  if (document.readyState === 'complete') register();
  else window.addEventListener('load', register, { once: true });
}
