/**
 * The import rules of docs/architecture.md, checked on the source tree:
 * - client/ and server/ meet only through contracts/ (neither imports the other; the browser
 *   bundle pulls in no server, models or ml code);
 * - contracts/ depends on nothing of ours but itself;
 * - a server feature uses another feature only through that feature's small interface
 *   (`*-api.ts`); only the composition root (server/main.ts) wires implementations together.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(root, dir))) {
    if (name === 'node_modules' || name === 'dist') continue;
    const rel = path.join(dir, name);
    if (statSync(path.join(root, rel)).isDirectory()) out.push(...sources(rel));
    else if (/\.(ts|tsx)$/.test(name) && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Relative imports of a file, resolved to repository paths (without extension). */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  const specs = [
    ...text.matchAll(/(?:import|export)\s[^'"`;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
  return specs.filter((s) => s.startsWith('.')).map((s) => path.normalize(path.join(path.dirname(file), s)));
}

const top = (p: string) => p.split(path.sep)[0] ?? '';
const feature = (p: string) => (p.startsWith(`server${path.sep}`) ? (p.split(path.sep)[1] ?? '') : '');
// Shared server modules every feature may use; the rest of server/<x>/ are features.
const PLATFORM = new Set([
  'http',
  'platform',
  'observability',
  'config',
  'config.ts',
  'db',
  'realtime',
  'integrity',
  'auth',
  'audit',
  'main.ts',
  'demo',
  'signing',
  'uploads',
]);

/** Imports of `file` that reach into another feature past its interface (`*-api`); main.ts may wire anything. */
function crossFeatureImports(file: string, imports: string[]): string[] {
  if (file === path.join('server', 'main.ts')) return [];
  const from = feature(file);
  return imports
    .filter((i) => {
      const to = feature(i);
      return to !== '' && to !== from && !PLATFORM.has(to) && !path.basename(i).endsWith('-api');
    })
    .map((i) => `${file} → ${i}`);
}

describe('import rules', () => {
  const client = sources('client/src');
  const server = [...sources('server'), ...sources('models'), ...sources('ml').filter((f) => !f.includes(`${path.sep}training${path.sep}`))];
  const contracts = sources('contracts');

  test('the file lists are not empty', () => {
    expect(client.length).toBeGreaterThan(20);
    expect(server.length).toBeGreaterThan(50);
    expect(contracts.length).toBeGreaterThan(5);
  });

  test('the client imports only the client and contracts/', () => {
    const bad = client.flatMap((f) =>
      importsOf(f)
        .filter((i) => top(i) !== 'client' && top(i) !== 'contracts')
        .map((i) => `${f} → ${i}`),
    );
    expect(bad).toEqual([]);
  });

  test('server, models and ml never import the client', () => {
    const bad = server.flatMap((f) =>
      importsOf(f)
        .filter((i) => top(i) === 'client')
        .map((i) => `${f} → ${i}`),
    );
    expect(bad).toEqual([]);
  });

  test('contracts/ imports only contracts/', () => {
    const bad = contracts.flatMap((f) =>
      importsOf(f)
        .filter((i) => top(i) !== 'contracts')
        .map((i) => `${f} → ${i}`),
    );
    expect(bad).toEqual([]);
  });

  test('the features are the folders docs/architecture.md names (plus the admin and directory routes)', () => {
    const features = [...new Set(sources('server').map(feature))].filter((f) => f && !PLATFORM.has(f)).sort();
    expect(features).toEqual(['admin', 'consults', 'directory', 'emr', 'imaging', 'sfu']);
  });

  test('a feature uses another feature only through its interface (*-api.ts); main.ts wires them', () => {
    expect(sources('server').flatMap((f) => crossFeatureImports(f, importsOf(f)))).toEqual([]);
  });

  test('the feature rule catches a reach into another feature and lets the interface through', () => {
    const from = path.join('server', 'consults', 'consult-service.ts');
    const emr = (name: string) => path.join('server', 'emr', name);
    expect(crossFeatureImports(from, [emr('record-service'), emr('records-api'), path.join('server', 'platform', 'errors')])).toEqual([
      `${from} → ${emr('record-service')}`,
    ]);
    expect(crossFeatureImports(path.join('server', 'main.ts'), [emr('record-service')])).toEqual([]);
  });
});
