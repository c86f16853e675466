/** Defined by client/vite.config.ts: true in built clients, false under the dev server. */
declare const __HOICHAN_REGISTER_SW__: boolean;
