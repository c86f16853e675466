/** Bundles call-page.ts with esbuild into a temp folder and serves it on 127.0.0.1 (for the e2e tests and benches). */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface ServedPage {
  url: string;
  close(): Promise<void>;
}

/** The repository root (works from the sources, from dist/ and from a bundle). */
function repoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'test', 'e2e', 'pages', 'call-page.ts'))) return dir;
    if (path.dirname(dir) === dir) return process.cwd();
  }
}

/** The call test page, bundled: its HTML and its script (served at `/call-page.js` relative to the page). */
export async function bundleCallPage(): Promise<{ html: string; js: Buffer }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require('esbuild') as typeof import('esbuild');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-call-page-'));
  try {
    await esbuild.build({
      entryPoints: [path.join(repoRoot(), 'test', 'e2e', 'pages', 'call-page.ts')],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      target: 'chrome120',
      outfile: path.join(dir, 'call-page.js'),
      logLevel: 'silent',
      define: { 'process.env.NODE_ENV': '"production"' },
    });
    const js = readFileSync(path.join(dir, 'call-page.js'));
    const html = '<!doctype html><html><head><meta charset="utf-8"><title>call</title></head><body><script src="call-page.js"></script></body></html>';
    return { html, js };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function serveCallPage(): Promise<ServedPage> {
  const { html, js } = await bundleCallPage();
  const server = createServer((req, res) => {
    if (req.url === '/call-page.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
