import { compareQueue, isOverdue, slaDeadline, type QueueKey } from '../../../server/consults/sla';

describe('SLA and queue order', () => {
  const t0 = new Date('2026-01-01T00:00:00Z');
  test('deadlines by urgency', () => {
    expect(slaDeadline('emergency', t0).toISOString()).toBe('2026-01-01T00:15:00.000Z');
    expect(slaDeadline('urgent', t0).toISOString()).toBe('2026-01-01T02:00:00.000Z');
    expect(slaDeadline('routine', t0).toISOString()).toBe('2026-01-02T00:00:00.000Z');
  });
  test('overdue only while requested', () => {
    const later = new Date('2026-01-01T00:16:00Z');
    expect(isOverdue({ status: 'requested', slaDeadline: slaDeadline('emergency', t0) }, later)).toBe(true);
    expect(isOverdue({ status: 'accepted', slaDeadline: slaDeadline('emergency', t0) }, later)).toBe(false);
    expect(isOverdue({ status: 'requested', slaDeadline: slaDeadline('urgent', t0) }, later)).toBe(false);
  });
  test('urgency, then AI severity, then waiting time', () => {
    const at = (m: number) => new Date(t0.getTime() + m * 60000);
    const items: Array<QueueKey & { name: string }> = [
      { name: 'routine-old', urgency: 'routine', aiFlagSeverity: null, requestedAt: at(0) },
      { name: 'urgent-noai-old', urgency: 'urgent', aiFlagSeverity: null, requestedAt: at(1) },
      { name: 'urgent-ai-low', urgency: 'urgent', aiFlagSeverity: 0.2, requestedAt: at(5) },
      { name: 'urgent-ai-high', urgency: 'urgent', aiFlagSeverity: 0.9, requestedAt: at(9) },
      { name: 'emergency-new', urgency: 'emergency', aiFlagSeverity: null, requestedAt: at(10) },
      { name: 'urgent-ai-high-older', urgency: 'urgent', aiFlagSeverity: 0.9, requestedAt: at(3) },
    ];
    expect(items.sort(compareQueue).map((i) => i.name)).toEqual([
      'emergency-new',
      'urgent-ai-high-older',
      'urgent-ai-high',
      'urgent-ai-low',
      'urgent-noai-old',
      'routine-old',
    ]);
  });
});
