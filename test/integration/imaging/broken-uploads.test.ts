/**
 * Broken and hostile uploads get a clean 4xx with a message, and leave nothing behind: no file in
 * the imaging folder, no study, no review, no FHIR resource.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEMO } from '../../support/platform';
import { DICOM, listFiles, PATIENT_MOCCHAU, startImagingHarness, type ImagingHarness } from './harness';

const UPLOAD_MAX_BYTES = 64 * 1024 * 1024;

let h: ImagingHarness;
let referrer: string;
beforeAll(async () => {
  h = await startImagingHarness({}, { UPLOAD_MAX_BYTES: String(UPLOAD_MAX_BYTES) });
  referrer = (await h.tp.login(DEMO.referrer)).accessToken;
}, 120_000);
afterAll(async () => {
  await h?.close();
});

async function snapshot() {
  const conn = h.tp.platform.db.database.connection;
  return {
    files: listFiles(path.join(h.tp.dataDir, 'imaging')),
    studies: await conn.collection('imaging_studies').countDocuments(),
    reviews: await conn.collection('triage_reviews').countDocuments(),
    fhirWrites: h.records.writes.length,
  };
}

const dicom = (f: string) => readFileSync(path.join(DICOM, f));

describe('rejected uploads leave nothing behind', () => {
  test.each([
    ['truncated DICOM', () => dicom('22_BROKEN_MR_truncated.dcm'), 422, /^image_(truncated|corrupt|dimensions)$/],
    ['DICOM without pixel data', () => dicom('23_BROKEN_CR_no_pixeldata.dcm'), 422, /^image_no_pixel_data$/],
    ['65535×65535 allocation bomb', () => dicom('25_BROKEN_oob_65535.dcm'), 422, /^image_(dimensions|too_large)$/],
    ['0-byte file', () => Buffer.alloc(0), 422, /^image_empty$/],
    ['random bytes', () => randomBytes(50_000), 415, /^unsupported_media_type$/],
    ['a PDF', () => Buffer.from('%PDF-1.7\n1 0 obj\n<<>>\nendobj\n'), 415, /^unsupported_media_type$/],
    [
      'PNG signature with garbage after it',
      () => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(4000)]),
      422,
      /^image_/,
    ],
  ])('%s', async (_name, make, status, code) => {
    const before = await snapshot();
    const res = await h.upload(referrer, make(), { patientId: PATIENT_MOCCHAU }, 'upload.dcm');
    expect(res.status).toBe(status);
    expect(res.body.error).toMatch(code);
    expect(res.body.message).toEqual(expect.any(String));
    expect(res.body.message.length).toBeGreaterThan(10);
    if (status === 422) expect(res.body.message).toMatch(/Nothing was stored/);
    expect(await snapshot()).toEqual(before);
  });

  test('the decoder’s reason reaches the client (truncated file)', async () => {
    const res = await h.upload(referrer, dicom('22_BROKEN_MR_truncated.dcm'), { patientId: PATIENT_MOCCHAU });
    expect(res.body.message).toMatch(/could not be read \((truncated|corrupt|dimensions)\): .+/);
  });

  test('a 200 MB streamed upload → 413 without the server buffering it, nothing stored', async () => {
    const before = await snapshot();
    const boundary = '----hoichan-test-boundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="patientId"\r\n\r\n${PATIENT_MOCCHAU}\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.dcm"\r\nContent-Type: application/dicom\r\n\r\n`,
    );
    const chunk = Buffer.alloc(1024 * 1024, 0x41);
    const total = 200 * 1024 * 1024;
    let sent = 0;
    let sentAtAnswer = -1;
    let status: number | string = 'no answer';
    let json: { error?: string; message?: string } = {};
    // node:http, not fetch: undici only hands over the response once the whole body is sent.
    const { request } = await import('node:http');
    const url = new URL(`${h.url}/api/imaging/studies`);
    await new Promise<void>((resolve) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { authorization: `Bearer ${referrer}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' },
        },
        (res) => {
          status = res.statusCode ?? 0;
          sentAtAnswer = sent;
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => {
            json = JSON.parse(text) as typeof json;
            req.destroy();
            resolve();
          });
        },
      );
      req.on('error', (err) => {
        if (status === 'no answer') status = `no answer: ${err.message}`;
        resolve();
      });
      req.write(head);
      const pump = () => {
        while (sent < total && !req.destroyed) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!req.destroyed) req.end(`\r\n--${boundary}--\r\n`);
      };
      pump();
    });
    expect(status).toBe(413);
    expect(json.error).toBe('payload_too_large');
    expect(sentAtAnswer).toBeLessThan(UPLOAD_MAX_BYTES + 16 * 1024 * 1024); // answered soon after the limit, not at the end
    expect(sent).toBeLessThan(total); // the server stopped reading long before the end
    expect(await snapshot()).toEqual(before);
  });

  test('a declared Content-Length over the limit is refused before the body is read', async () => {
    const before = await snapshot();
    const { request } = await import('node:http');
    const url = new URL(`${h.url}/api/imaging/studies`);
    const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { authorization: `Bearer ${referrer}`, 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(200 * 1024 * 1024) },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.write(Buffer.alloc(1024));
      // never send the rest: the answer must come anyway
    });
    expect(result.status).toBe(413);
    expect(JSON.parse(result.body).error).toBe('payload_too_large');
    expect(await snapshot()).toEqual(before);
  });

  test('a valid image still goes through afterwards', async () => {
    const res = await h.upload(referrer, dicom('03_gdcm-CR-MONO1-10-chest.dcm'), { patientId: PATIENT_MOCCHAU });
    expect(res.status).toBe(201);
    expect(listFiles(path.join(h.tp.dataDir, 'imaging', 'tmp'))).toEqual([]);
  });
});
