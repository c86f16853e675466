/**
 * Verifies a signed consult report offline:
 *   node dist/server/signing/verify-cli.js <report.json> <signature.jws> <public-jwk.json>
 * report.json is the signed DiagnosticReport (the `resource` of GET /api/consults/:id/report),
 * signature.jws the detached compact JWS, public-jwk.json the signer's JWK.
 * Prints one JSON object; exit 0 when valid, 1 when invalid, 2 on a usage error.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { verifyDetached } from './jws';

const jwkSchema = z.object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string().min(1), y: z.string().min(1), kid: z.string().optional() });

export function runVerifyCli(argv: string[], out: (s: string) => void): number {
  if (argv.length !== 3) {
    out(JSON.stringify({ valid: false, problem: 'usage: verify-cli <report.json> <signature.jws> <public-jwk.json>' }));
    return 2;
  }
  const [reportPath, sigPath, jwkPath] = argv as [string, string, string];
  let report: unknown;
  let jws: string;
  let jwk: z.infer<typeof jwkSchema>;
  try {
    report = JSON.parse(readFileSync(reportPath, 'utf8'));
    jws = readFileSync(sigPath, 'utf8').trim();
    const parsedJwk = jwkSchema.safeParse(JSON.parse(readFileSync(jwkPath, 'utf8')));
    if (!parsedJwk.success) throw new Error(`public JWK: ${parsedJwk.error.issues.map((i) => i.message).join('; ')}`);
    jwk = parsedJwk.data;
  } catch (err) {
    out(JSON.stringify({ valid: false, problem: `cannot read input: ${(err as Error).message}` }));
    return 2;
  }
  const result = verifyDetached(report, jws, { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y });
  out(JSON.stringify(result.valid ? { valid: true, kid: result.header.kid, alg: result.header.alg, iat: result.header.iat ?? null } : { valid: false, problem: result.problem, kid: result.header?.kid ?? null }));
  return result.valid ? 0 : 1;
}

if (require.main === module) {
  process.exitCode = runVerifyCli(process.argv.slice(2), (s) => process.stdout.write(`${s}\n`));
}
