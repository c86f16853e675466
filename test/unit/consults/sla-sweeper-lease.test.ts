/**
 * The SLA sweeper sweeps only while its process holds the lease: two sweepers (two processes) on
 * one lease table sweep once per tick between them; the holder's death hands the job over after the
 * lease's time to live, an orderly stop at once; a lease that cannot be reached means no sweep.
 */
import type { Model } from 'mongoose';
import type { ConsultRequest } from '../../../models/consult-request';
import type { ConsultNotifier } from '../../../server/consults/notifier';
import { SlaSweeper, SWEEP_LEASE_TTL_MS } from '../../../server/consults/sla-sweeper';
import { SWEEP_INTERVAL_MS } from '../../../server/consults/sla';
import type { Lease } from '../../../server/platform/lease';
import { createLogger } from '../../../server/observability/logger';

/** Leases as Redis keeps them (holder and expiry), on a clock the test moves. */
class LeaseTable {
  now = 0;
  readonly #held = new Map<string, { holder: string; until: number }>();
  down = false;
  lease(name: string, processId: string, ttlMs: number): Lease {
    return {
      name,
      hold: () => {
        if (this.down) return Promise.reject(new Error('Redis away'));
        const cur = this.#held.get(name);
        if (cur && cur.until > this.now && cur.holder !== processId) return Promise.resolve(false);
        this.#held.set(name, { holder: processId, until: this.now + ttlMs });
        return Promise.resolve(true);
      },
      release: () => {
        if (this.#held.get(name)?.holder === processId) this.#held.delete(name);
        return Promise.resolve();
      },
      holder: () => {
        const cur = this.#held.get(name);
        return Promise.resolve(cur && cur.until > this.now ? cur.holder : null);
      },
    };
  }
}

const logger = createLogger('silent');

function sweeperOn(table: LeaseTable, processId: string): { sweeper: SlaSweeper; sweeps: () => number } {
  const sweeper = new SlaSweeper(
    {} as Model<ConsultRequest>,
    {} as unknown as ConsultNotifier,
    logger,
    table.lease('sla-sweeper', processId, SWEEP_LEASE_TTL_MS),
  );
  const sweep = jest.spyOn(sweeper, 'sweep').mockResolvedValue(undefined);
  return { sweeper, sweeps: () => sweep.mock.calls.length };
}

test('two processes: one sweeps per tick, the same one while it lives', async () => {
  const table = new LeaseTable();
  const a = sweeperOn(table, 'A');
  const b = sweeperOn(table, 'B');
  for (let i = 0; i < 5; i++) {
    await a.sweeper.tick();
    await b.sweeper.tick();
    table.now += SWEEP_INTERVAL_MS;
  }
  expect(a.sweeps()).toBe(5);
  expect(b.sweeps()).toBe(0);
  expect(await table.lease('sla-sweeper', 'x', 1).holder()).toBe('A');
});

test('the holder dies: the other takes over once the lease has expired, not before', async () => {
  const table = new LeaseTable();
  const a = sweeperOn(table, 'A');
  const b = sweeperOn(table, 'B');
  await a.sweeper.tick();
  // A is gone (no more ticks, no release). B keeps trying every interval.
  let waited = 0;
  while (b.sweeps() === 0) {
    table.now += SWEEP_INTERVAL_MS;
    waited += SWEEP_INTERVAL_MS;
    await b.sweeper.tick();
    if (waited > 10 * SWEEP_LEASE_TTL_MS) throw new Error('B never took over');
  }
  expect(waited).toBeGreaterThanOrEqual(SWEEP_LEASE_TTL_MS);
  expect(waited).toBeLessThanOrEqual(SWEEP_LEASE_TTL_MS + SWEEP_INTERVAL_MS);
  expect(await table.lease('sla-sweeper', 'x', 1).holder()).toBe('B');
});

test('an orderly stop hands the lease over at once', async () => {
  const table = new LeaseTable();
  const a = sweeperOn(table, 'A');
  const b = sweeperOn(table, 'B');
  await a.sweeper.tick();
  await b.sweeper.tick();
  expect(b.sweeps()).toBe(0);
  await a.sweeper.stop();
  await b.sweeper.tick();
  expect(b.sweeps()).toBe(1);
});

test('the lease cannot be reached: nobody sweeps until it can', async () => {
  const table = new LeaseTable();
  const a = sweeperOn(table, 'A');
  table.down = true;
  await a.sweeper.tick();
  await a.sweeper.tick();
  expect(a.sweeps()).toBe(0);
  table.down = false;
  await a.sweeper.tick();
  expect(a.sweeps()).toBe(1);
});
