import { LeasedJob, type Lease } from '../../../server/platform/lease';

/** A lease held by one of two processes at a time, as Redis would decide it (pure, in memory). */
function sharedLease(): { of: (processId: string) => Lease; holder: () => string | null } {
  let holder: string | null = null;
  return {
    holder: () => holder,
    of: (processId) => ({
      name: 'job',
      hold: () => {
        if (holder === null) holder = processId;
        return Promise.resolve(holder === processId);
      },
      release: () => {
        if (holder === processId) holder = null;
        return Promise.resolve();
      },
      holder: () => Promise.resolve(holder),
    }),
  };
}

test('of two processes only the lease holder runs the job; after it stops, the other takes over', async () => {
  const lease = sharedLease();
  const runs: string[] = [];
  const errors: unknown[] = [];
  const a = new LeasedJob(
    lease.of('a'),
    60_000,
    () => Promise.resolve(void runs.push('a')),
    (e) => errors.push(e),
  );
  const b = new LeasedJob(
    lease.of('b'),
    60_000,
    () => Promise.resolve(void runs.push('b')),
    (e) => errors.push(e),
  );
  expect(await a.tick()).toBe(true);
  expect(await b.tick()).toBe(false);
  expect(await a.tick()).toBe(true);
  expect(runs).toEqual(['a', 'a']);
  await a.stop();
  expect(lease.holder()).toBeNull();
  expect(await b.tick()).toBe(true);
  expect(runs).toEqual(['a', 'a', 'b']);
  await b.stop();
  expect(errors).toEqual([]);
});

test('a failing job or lease is reported, never thrown; a run still going is not started twice', async () => {
  const errors: unknown[] = [];
  let finish!: () => void;
  const slow = new Promise<void>((r) => (finish = r));
  let calls = 0;
  const job = new LeasedJob(
    sharedLease().of('a'),
    60_000,
    () => {
      calls += 1;
      return slow;
    },
    (e) => errors.push(e),
  );
  const first = job.tick();
  await new Promise((r) => setImmediate(r));
  expect(await job.tick()).toBe(false);
  finish();
  expect(await first).toBe(true);
  expect(calls).toBe(1);
  await job.stop();

  const broken: Lease = {
    name: 'x',
    hold: () => Promise.reject(new Error('redis away')),
    release: () => Promise.resolve(),
    holder: () => Promise.resolve(null),
  };
  const failing = new LeasedJob(
    broken,
    60_000,
    () => Promise.reject(new Error('not reached')),
    (e) => errors.push(e),
  );
  expect(await failing.tick()).toBe(false);
  await failing.stop();
  expect(errors.map((e) => (e as Error).message)).toEqual(['redis away']);
});
