/**
 * Screen tour of the web client with real data, in real Chromium (fake camera and microphone):
 * the district doctor opens the demo patient's record and requests a consult with an X-ray; the
 * specialist sees it in the queue and accepts; both enter the consult room (the host admits the
 * other from the waiting room when needed) and join the call; chat; the specialist signs the
 * report and sees who signed it, with which certificate, and re-verifies it; the radiologist opens
 * the worklist (filled by the consult, no invitation needed) and the reviewed view; the
 * administrator reviews a break-glass access by name and reads the audit log with names.
 * On every screen: a screenshot under test-artifacts/screenshots/, axe-core, and the catalogue
 * check (every visible text of the UI language is in its catalogue: test/e2e/client/i18n-check.ts;
 * helpers in ./tour.ts). No console errors on any page. The same doctor on a phone: phone.test.ts.
 * Needs the consult, EMR, imaging and SFU features of the server and a built client.
 */
import type { Browser } from 'playwright-core';
import { inboundVideo } from '../../support/browser';
import { screenshooter, signIn, startTour, xray } from './tour';
import { DEMO, type TestPlatform } from '../../support/platform';

/** Screen → texts not in its language's catalogue; asserted empty at the end of the tour (one report for all screens). */
const untranslated: Record<string, string[]> = {};
const shot = screenshooter(untranslated);

describe('web client screen tour (all roles, real APIs)', () => {
  let tp: TestPlatform;
  let browser: Browser;

  beforeAll(async () => {
    ({ tp, browser } = await startTour());
  });
  afterAll(async () => {
    await browser?.close();
    await tp?.close();
  });

  it('walks every screen', async () => {
    // An emergency access to review later (the specialist has no relationship with the patient yet).
    const specToken = (await tp.login(DEMO.specialist)).accessToken;
    const bg = await tp.api('POST', '/api/emr/break-glass', {
      token: specToken,
      body: { patientId: 'pat-demo-hoa', reason: 'Bệnh nhân suy hô hấp, cần xem hồ sơ ngay' },
    });
    expect(bg.status).toBe(201);

    // District doctor: patients → record → new consult with an X-ray.
    const ref = await signIn(browser, tp.url, DEMO.referrer, 'vi-VN');
    await ref.page.getByTestId('my-patients').waitFor();
    const firstRow = ref.page.locator('[data-testid^="patient-row-"]').first();
    await firstRow.waitFor();
    await shot(ref.page, 'tour-01-referrer-patients-vi');
    const patientId = ((await firstRow.getAttribute('data-testid')) ?? '').replace('patient-row-', '');
    await ref.page.getByTestId(`patient-open-${patientId}`).click();
    await ref.page.getByTestId('record-view').waitFor();
    // Vitals and labs by their Vietnamese names, units as clinicians write them.
    const vitals = await ref.page.getByTestId('record-view').innerText();
    expect(vitals).toContain('Nhiệt độ');
    expect(vitals).toMatch(/37,9 °C/);
    expect(vitals).toMatch(/11,2 ×10⁹\/L/);
    expect(vitals).not.toMatch(/\bCel\b|10\*3\/uL|Body temperature/);
    await shot(ref.page, 'tour-02-referrer-record-vi', true);

    await ref.page.getByTestId('record-new-consult').click();
    await ref.page.getByTestId('new-consult-form').waitFor();
    // The picker is an <input> until GET /api/emr/patients answers, then a <select> of the doctor's patients.
    await ref.page.locator('select[data-testid="consult-patient"]').waitFor({ timeout: 30_000 });
    await ref.page.getByTestId('consult-patient').selectOption(patientId);
    await ref.page.getByTestId('consult-urgency-urgent').check();
    await ref.page.getByTestId('consult-reason').fill('Ho kéo dài 3 tuần, sốt về chiều, sụt 4 kg. X-quang có tổn thương thùy trên phổi phải.');
    await ref.page.getByTestId('consult-question').fill('Xin ý kiến chẩn đoán lao phổi và hướng xử trí tiếp theo tại tuyến huyện.');
    await ref.page.getByTestId('consult-section-encounters').check();
    await ref.page.getByTestId('consult-xray').setInputFiles(xray);
    await shot(ref.page, 'tour-03-referrer-new-consult-vi', true);
    await ref.page.getByTestId('consult-submit').click();
    await ref.page.getByTestId('consult-created').waitFor({ timeout: 60_000 });
    const consultRow = ref.page.locator('[data-testid^="consult-row-"]').first();
    const consultId = ((await consultRow.getAttribute('data-testid')) ?? '').replace('consult-row-', '');
    expect(consultId).not.toBe('');
    await shot(ref.page, 'tour-04-referrer-my-requests-vi');

    // Specialist: the request is in the queue (with its AI flag once triage is done); accept.
    const spec = await signIn(browser, tp.url, DEMO.specialist, 'en-GB');
    await spec.page.getByTestId('specialist-queue').waitFor();
    const qrow = spec.page.getByTestId(`queue-row-${consultId}`);
    await qrow.waitFor({ timeout: 30_000 });
    await qrow.getByTestId('ai-flag').waitFor({ timeout: 45_000 });
    await shot(spec.page, 'tour-05-specialist-queue-en');
    await spec.page.getByTestId(`queue-accept-${consultId}`).click();
    await spec.page.getByTestId(`mine-row-${consultId}`).waitFor();
    await spec.page.getByTestId(`queue-room-${consultId}`).click();
    await spec.page.getByTestId('consult-room').waitFor();
    const start = spec.page.getByTestId('room-start');
    if (await start.isVisible().catch(() => false)) await start.click();
    // The host invites a colleague found by name (no internal ids): typing part of the name, accents optional.
    await spec.page.getByTestId('room-invite').click();
    await spec.page.getByTestId('invite-user').fill('chau');
    await spec.page.getByTestId('invite-option-usr-radiologist').click();
    await spec.page.getByTestId('invite-submit').click();
    await spec.page.getByTestId('invite-form').waitFor({ state: 'detached' });

    // The requesting doctor enters their own consult without waiting for the host.
    await ref.page.goto(`${tp.url}/consults/${consultId}`);
    await ref.page.getByTestId('consult-room').waitFor();
    await ref.page.getByTestId('emr-panel').waitFor({ timeout: 30_000 });
    expect(await ref.page.getByTestId('waiting-room').count()).toBe(0);
    expect(await spec.page.locator('[data-testid^="admit-"]').count()).toBe(0);

    await spec.page.getByTestId('call-join').click();
    await ref.page.getByTestId('call-join').click();
    // Each side receives the other's media (inbound video bytes and decoded frames grow).
    for (const p of [spec.page, ref.page]) {
      await p.getByTestId('video-remote').first().waitFor({ timeout: 30_000 });
      const deadline = Date.now() + 30_000;
      let got = await inboundVideo(p);
      while (got.frames <= 10 && Date.now() < deadline) {
        await p.waitForTimeout(500);
        got = await inboundVideo(p);
      }
      expect(got.frames).toBeGreaterThan(10);
      expect(got.bytes).toBeGreaterThan(0);
    }
    await spec.page.waitForTimeout(1500);

    await ref.page.getByTestId('room-tab-chat').click();
    await ref.page.getByTestId('chat-input').fill('Chào PGS, bệnh nhân đang ở phòng khám, cần hỗ trợ đọc phim.');
    await ref.page.getByTestId('chat-send').click();
    await spec.page.getByTestId('room-tab-chat').click();
    await spec.page.getByTestId('chat-message').first().waitFor();
    await spec.page.getByTestId('room-tab-record').click();
    await shot(spec.page, 'tour-06-specialist-room-en');
    await shot(ref.page, 'tour-07-referrer-room-chat-vi');

    // Report: write, sign, verify.
    await spec.page.getByTestId('room-tab-report').click();
    await spec.page.getByTestId('report-findings').fill('Tổn thương thâm nhiễm thùy trên phổi phải, nghi lao phổi. AFB đờm chưa có.');
    await spec.page.getByTestId('report-recommendation').fill('Xét nghiệm GeneXpert MTB/RIF đờm; chuyển chương trình chống lao huyện nếu dương tính.');
    await spec.page.getByTestId('report-sign').click();
    await spec.page.getByTestId('report-verified').waitFor({ timeout: 30_000 });
    // Who signed, when, with which certificate (issued by the hospital CA), and every check passed.
    await expect(spec.page.getByTestId('report-signer').innerText()).resolves.toContain('PGS.TS. Trần Thị Bình');
    await expect(spec.page.getByTestId('report-certificate').innerText()).resolves.toMatch(/Bạch Mai[\s\S]*Issued by/);
    expect(await spec.page.locator('[data-testid="report-checks"] .check-ok').count()).toBe(4);
    await spec.page.getByTestId('report-reverify').click();
    await spec.page.getByTestId('report-verified').waitFor();
    await shot(spec.page, 'tour-08-specialist-report-signed-en');
    // The district doctor sees the same, in Vietnamese.
    await ref.page.getByTestId('room-tab-report').click();
    await ref.page.getByTestId('report-verified').waitFor({ timeout: 30_000 });
    await expect(ref.page.getByTestId('report-signer').innerText()).resolves.toContain('PGS.TS. Trần Thị Bình');
    await expect(ref.page.getByTestId('report-certificate').innerText()).resolves.toContain('Cấp bởi');
    await shot(ref.page, 'tour-08b-referrer-report-signed-vi');

    // Radiologist worklist.
    const rad = await signIn(browser, tp.url, DEMO.radiologist, 'vi-VN');
    // Invited colleagues wait for the host; the text says the host is in and has been told.
    await rad.page.goto(`${tp.url}/consults/${consultId}`);
    await rad.page.getByTestId('waiting-room').waitFor({ timeout: 30_000 });
    await expect(rad.page.getByTestId('waiting-room-text').innerText()).resolves.toMatch(/PGS\.TS\. Trần Thị Bình \(chủ trì\) đã được báo/);
    await spec.page.getByTestId('waiting-list').waitFor();
    await expect(spec.page.getByTestId('waiting-list').innerText()).resolves.toContain('BS. Lê Minh Châu');
    await shot(rad.page, 'tour-09a-radiologist-waiting-room-vi');
    await rad.page.getByTestId('nav-worklist').click();
    await rad.page.getByTestId('worklist').waitFor();
    await rad.page.locator('[data-testid^="worklist-item-"]').first().waitFor({ timeout: 60_000 });
    await rad.page.getByTestId('worklist-viewer-canvas').waitFor();
    await rad.page.waitForTimeout(1000);
    // Correct a box by dragging on the image, then confirm the TB flag with a comment.
    await rad.page.getByTestId('viewer-tool-box').click();
    const box = await rad.page.getByTestId('worklist-viewer-canvas').boundingBox();
    if (box) {
      await rad.page.mouse.move(box.x + box.width * 0.35, box.y + box.height * 0.2);
      await rad.page.mouse.down();
      await rad.page.mouse.move(box.x + box.width * 0.45, box.y + box.height * 0.35, { steps: 5 });
      await rad.page.mouse.up();
    }
    await rad.page.getByTestId('viewer-heatmap').selectOption('tb');
    await rad.page.getByTestId('review-comment-tb').fill('Đồng ý: thâm nhiễm đỉnh phổi phải.');
    await shot(rad.page, 'tour-09-radiologist-worklist-vi');
    await rad.page.getByTestId('review-confirm-tb').click();
    await rad.page
      .getByTestId('review-state-tb')
      .waitFor({ timeout: 15_000 })
      .catch(() => undefined);
    await shot(rad.page, 'tour-10-radiologist-confirmed-vi');
    // The TB decision counts at once in the stats card.
    await expect(rad.page.getByTestId('stats-tb').innerText()).resolves.toMatch(/^1\/1 /);
    // Confirm the remaining flags; the study moves to the reviewed view.
    for (const el of await rad.page.locator('[data-testid="worklist-detail"] .finding-review.finding-flagged').all()) {
      const finding = ((await el.getAttribute('data-testid')) ?? '').replace('review-', '');
      if (finding !== 'tb' && (await rad.page.getByTestId(`review-state-${finding}`).count()) === 0)
        await rad.page.getByTestId(`review-confirm-${finding}`).click();
    }
    await rad.page.getByTestId('worklist-view-reviewed').click();
    await rad.page.locator('[data-testid^="worklist-item-"]').first().waitFor({ timeout: 15_000 });
    await shot(rad.page, 'tour-11-radiologist-reviewed-vi');

    // The patient record keeps the X-ray and its AI results as one line in the imaging section.
    await ref.page.goto(`${tp.url}/patients/${patientId}`);
    await ref.page.getByTestId('record-section-imaging').getByTestId('record-ai-results').waitFor({ timeout: 30_000 });
    expect(await ref.page.getByTestId('record-section-imaging').getByTestId('record-item-imaging').count()).toBe(1);
    expect(await ref.page.locator('.record-timeline [data-testid="record-item-imaging"]').count()).toBe(0);
    await shot(ref.page, 'tour-14-referrer-record-imaging-vi', true);

    // Administrator: the break-glass access by name, marked reviewed with a note; the audit log with names.
    const adm = await signIn(browser, tp.url, DEMO.admin, 'vi-VN');
    await adm.page.goto(`${tp.url}/admin/break-glass`);
    const grantId = bg.body.id as string;
    await adm.page.getByTestId(`grant-row-${grantId}`).waitFor();
    await adm.page.getByTestId(`grant-user-${grantId}`).getByText('PGS.TS. Trần Thị Bình').waitFor();
    await adm.page.getByTestId(`grant-patient-${grantId}`).getByText(/Hoa/).waitFor();
    expect(await adm.page.getByTestId(`grant-user-${grantId}`).getAttribute('title')).toBe('usr-specialist');
    await adm.page.getByTestId(`grant-row-${grantId}`).getByTestId('grant-review-note').fill('Đã xác minh với khoa: hợp lý');
    await adm.page.getByTestId(`grant-row-${grantId}`).getByTestId('grant-review-submit').click();
    await adm.page.getByTestId(`grant-reviewed-${grantId}`).waitFor();
    await shot(adm.page, 'tour-12-admin-break-glass-vi');
    await adm.page.goto(`${tp.url}/admin/audit`);
    await adm.page.getByTestId('audit-table').waitFor();
    await adm.page.getByTestId('audit-table').getByText('PGS.TS. Trần Thị Bình').first().waitFor();
    await shot(adm.page, 'tour-13-admin-audit-vi');
    // Users (specialties from the code list, in Vietnamese) and facilities.
    await adm.page.goto(`${tp.url}/admin/users`);
    await adm.page.getByTestId('user-row-specialist@central.demo').waitFor();
    await expect(adm.page.getByTestId('user-row-specialist@central.demo').innerText()).resolves.toContain('Hô hấp');
    await shot(adm.page, 'tour-15-admin-users-vi');
    await adm.page.goto(`${tp.url}/admin/facilities`);
    await adm.page.locator('[data-testid^="facility-row-"]').first().waitFor();
    await shot(adm.page, 'tour-16-admin-facilities-vi');

    expect(untranslated).toEqual({});
    for (const s of [ref, spec, rad, adm]) {
      expect(s.errors).toEqual([]);
      await s.ctx.close();
    }
  });
});
