/**
 * Verifies a signed consult report offline:
 *   node dist/server/signing/verify-cli.js <report.json> <signature.jws> <public-jwk.json | trusted-ca.pem>
 * report.json is the signed DiagnosticReport (the `resource` of GET /api/consults/:id/report),
 * signature.jws the detached compact JWS. The third argument is either the signer's public JWK
 * (any report, also those signed before certificates) or the PEM of the hospital's trusted root
 * CA: then the JWS's `x5c` chain is checked up to that root and valid at the signing time (the
 * revocation list needs the server: GET /api/consults/:id/report/verify).
 * Prints one JSON object; exit 0 when valid, 1 when invalid, 2 on a usage error.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { readPemCertificates, verifyCertificatePath } from './hospital-ca';
import { readHeader, verifyDetached } from './jws';

const jwkSchema = z.object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string().min(1), y: z.string().min(1), kid: z.string().optional() });

export async function runVerifyCli(argv: string[], out: (s: string) => void): Promise<number> {
  if (argv.length !== 3) {
    out(JSON.stringify({ valid: false, problem: 'usage: verify-cli <report.json> <signature.jws> <public-jwk.json | trusted-ca.pem>' }));
    return 2;
  }
  const [reportPath, sigPath, keyPath] = argv as [string, string, string];
  let report: unknown;
  let jws: string;
  let keyText: string;
  try {
    report = JSON.parse(readFileSync(reportPath, 'utf8'));
    jws = readFileSync(sigPath, 'utf8').trim();
    keyText = readFileSync(keyPath, 'utf8');
  } catch (err) {
    out(JSON.stringify({ valid: false, problem: `cannot read input: ${(err as Error).message}` }));
    return 2;
  }
  if (keyText.includes('-----BEGIN CERTIFICATE-----')) {
    const header = readHeader(jws);
    if (!header?.x5c?.length) {
      out(
        JSON.stringify({ valid: false, problem: 'the signature carries no certificate chain (x5c); verify it with the public JWK', kid: header?.kid ?? null }),
      );
      return 1;
    }
    const at = header.iat !== undefined ? new Date(header.iat * 1000) : new Date();
    const chain = await verifyCertificatePath(header.x5c, at, { anchors: readPemCertificates(keyPath) });
    const sig = chain.leafKey ? await verifyDetached(report, jws, chain.leafKey) : null;
    const valid = chain.ok && sig?.valid === true;
    out(
      JSON.stringify({
        valid,
        kid: header.kid,
        alg: header.alg,
        iat: header.iat ?? null,
        signer: chain.leaf?.commonName ?? null,
        certificate: chain.leaf ?? null,
        path: chain.path,
        ...(valid ? {} : { problem: sig && !sig.valid ? sig.problem : chain.problem }),
      }),
    );
    return valid ? 0 : 1;
  }
  let jwk: z.infer<typeof jwkSchema>;
  try {
    const parsedJwk = jwkSchema.safeParse(JSON.parse(keyText));
    if (!parsedJwk.success) throw new Error(`public JWK: ${parsedJwk.error.issues.map((i) => i.message).join('; ')}`);
    jwk = parsedJwk.data;
  } catch (err) {
    out(JSON.stringify({ valid: false, problem: `cannot read input: ${(err as Error).message}` }));
    return 2;
  }
  const result = await verifyDetached(report, jws, { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y });
  out(
    JSON.stringify(
      result.valid
        ? { valid: true, kid: result.header.kid, alg: result.header.alg, iat: result.header.iat ?? null }
        : { valid: false, problem: result.problem, kid: result.header?.kid ?? null },
    ),
  );
  return result.valid ? 0 : 1;
}

if (require.main === module) {
  void runVerifyCli(process.argv.slice(2), (s) => process.stdout.write(`${s}\n`)).then((code) => (process.exitCode = code));
}
