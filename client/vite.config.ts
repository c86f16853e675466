import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const clientDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(clientDir, '..');
const serverUrl = process.env.HOICHAN_DEV_SERVER ?? 'http://127.0.0.1:8080';

/** Root is client/, output client/dist; contracts/ (one level up) is shared with the server. */
export default defineConfig(({ command }) => ({
  root: clientDir,
  base: '/',
  // eslint-disable-next-line @typescript-eslint/no-unsafe-call -- no tsconfig includes this file, and the default project cannot resolve @vitejs/plugin-react's types
  plugins: [react()],
  // The service worker (client/public/sw.js) is registered by built clients only: under the dev
  // server it would cache modules that change on every edit.
  define: { __HOICHAN_REGISTER_SW__: JSON.stringify(command === 'build') },
  build: {
    outDir: path.join(clientDir, 'dist'),
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 900,
  },
  server: {
    fs: { allow: [clientDir, path.join(repoRoot, 'contracts'), path.join(repoRoot, 'node_modules')] },
    proxy: {
      '/api': serverUrl,
      '/fhir': serverUrl,
      '/socket.io': { target: serverUrl, ws: true },
    },
  },
}));
