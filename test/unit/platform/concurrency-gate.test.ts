import { ConcurrencyGate, GateFullError } from '../../../server/platform/concurrency-gate';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('ConcurrencyGate', () => {
  test('runs at most `limit` tasks at once, in arrival order, and refuses past maxWaiting', async () => {
    const gate = new ConcurrencyGate(2, 3);
    const started: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const releases = Array.from({ length: 5 }, deferred);
    const runs = releases.map((d, i) =>
      gate.run(async () => {
        started.push(i);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await d.promise;
        inFlight--;
        return i;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(gate.waiting).toBe(3);
    await expect(gate.run(() => Promise.resolve(99))).rejects.toBeInstanceOf(GateFullError);
    for (const d of releases) d.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(maxInFlight).toBe(2);
    expect(gate.running).toBe(0);
    expect(gate.waiting).toBe(0);
  });

  test('a failing task frees its slot', async () => {
    const gate = new ConcurrencyGate(1, 10);
    await expect(gate.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await gate.run(() => Promise.resolve('next'))).toBe('next');
    expect(gate.running).toBe(0);
  });
});
