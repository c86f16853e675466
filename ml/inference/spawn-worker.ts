/** Starts a worker thread from compiled output or, in development and tests, from TypeScript sources. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Compiled (dist/…): runs `<dir>/<name>.js`. From TypeScript sources (jest + @swc/jest, whose
 * transform does not reach worker threads) the worker is an eval'd bootstrap that registers a
 * require hook transpiling .ts with the `typescript` package, then loads `<dir>/<name>.ts`.
 * `typescript` is pure JS; with @swc/core's native addon loaded in a worker, one test run aborted
 * in Node's worker teardown. Production only ever takes the compiled branch (typescript is a dev
 * dependency).
 */
export function spawnWorker(dir: string, name: string, options: WorkerOptions = {}): Worker {
  const compiled = path.join(dir, `${name}.js`);
  if (path.extname(__filename) === '.js' && existsSync(compiled)) return new Worker(compiled, options);
  const source = path.join(dir, `${name}.ts`);
  if (!existsSync(source)) throw new Error(`worker entry not found: ${compiled} or ${source}`);
  const bootstrap = `
    const fs = require('node:fs');
    const ts = require(${JSON.stringify(require.resolve('typescript'))});
    const compilerOptions = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, inlineSourceMap: true };
    require.extensions['.ts'] = (module, filename) => {
      const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), { fileName: filename, compilerOptions });
      module._compile(outputText, filename);
    };
    require(${JSON.stringify(source)});
  `;
  return new Worker(bootstrap, { ...options, eval: true });
}
