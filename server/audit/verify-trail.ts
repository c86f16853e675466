import type { Model, mongo } from 'mongoose';
import type { AuditAnchor, AuditCheckpoint, AuditEntry, StoredAuditEntry } from '../../models/audit-entry';
import { anchorIdOf, chainBase, chainOf, entryName, GENESIS_HASH, macMatches, REGISTER_ID, registerMacMatches, storedEntryIntact } from './trail-format';

export interface ChainVerification {
  ok: boolean;
  entries: number;
  /** First entry id found altered, removed or out of chain. */
  firstBadSeq?: number;
  problem?: 'altered' | 'removed' | 'chain-broken' | 'truncated' | 'rewritten';
  message: string;
}

export interface TrailModels {
  entries: Model<AuditEntry>;
  anchors: Model<AuditAnchor>;
  checkpoints: Model<AuditCheckpoint>;
}

/** One chain as the walk goes through its entries. */
interface ChainWalk {
  chain: number;
  anchored: boolean;
  /** The anchored head: every entry up to it must be there and end in its hash. */
  headSeq: number;
  headHash: string;
  /** The hash of the entry at `headSeq` once walked (the genesis for an empty chain). */
  hashAtHead: string | undefined;
  expected: number;
  prevHash: string;
  lastGoodCheckpoint: number;
  /** Past the anchor and past a gap: the rest is not yet anchored (a batch being stored), not looked at. */
  done: boolean;
}

const problemOf = (problem: NonNullable<ChainVerification['problem']>, firstBadSeq: number | undefined, message: string, entries = 0): ChainVerification => ({
  ok: false,
  entries,
  ...(firstBadSeq !== undefined ? { firstBadSeq } : {}),
  problem,
  message,
});

/**
 * Walks every chain of the trail (the chain written before chains existed, and every registered one)
 * and names the first entry that was altered or removed, a removed chain, a truncated chain, and a
 * rewrite with recomputed hashes (a head or checkpoint whose keyed MAC fails or disagrees).
 *
 * Never a false alarm while writers append: the register is read first, then the anchors, then the
 * entries. A writer creates its chain's anchor before it moves the register, so every chain the
 * register names has an anchor; and it moves an anchor only after the entries up to it are stored,
 * so every entry up to an anchor is there when the walk reads it. Entries past an anchor are checked
 * as far as they follow on without a gap (each is a whole document once it can be read) and
 * otherwise left for the next run; chains registered after the register was read are left too.
 */
export async function verifyTrail(m: TrailModels, key: string): Promise<ChainVerification> {
  const register = await m.anchors.findById(REGISTER_ID).lean();
  const anchors = new Map((await m.anchors.find({}).lean()).map((a) => [a._id, a]));
  const checkpoints = new Map((await m.checkpoints.find({}).lean()).map((c) => [c._id, c]));
  const rewriteStart = (chain: number) => newestAgreeingCheckpoint(m, key, checkpoints, chain);

  let registered = 0;
  if (register) {
    if (!registerMacMatches(key, register.seq, register.mac))
      return problemOf('rewritten', undefined, 'The register of audit chains does not carry a valid keyed checkpoint: it was rewritten');
    registered = register.seq;
  } else {
    // A writer creates the register before its first chain, so chains without it means it was removed.
    const orphan = [...anchors.keys()].find((id) => id.startsWith('chain-'));
    if (orphan) return problemOf('removed', undefined, `The register of audit chains was removed (chain anchor ${orphan} is there)`);
  }

  const walks: ChainWalk[] = [];
  for (let chain = 0; chain <= registered; chain++) {
    const anchor = anchors.get(anchorIdOf(chain));
    const base = chainBase(chain);
    if (!anchor && chain > 0)
      return problemOf('removed', base + 1, `Audit chain ${chain} was removed: the register names it, but its head and entries are gone`);
    if (anchor && (!macMatches(key, anchor.seq, anchor.hash, anchor.mac) || chainOf(anchor.seq) !== chain || anchor.seq < base)) {
      const where = await rewriteStart(chain);
      return problemOf(
        'rewritten',
        where.from,
        `The head of audit chain ${chain} (entry ${entryName(anchor.seq)}) does not carry a valid keyed checkpoint: the chain was rewritten ${where.text}`,
      );
    }
    const headSeq = anchor?.seq ?? base;
    walks.push({
      chain,
      anchored: !!anchor,
      headSeq,
      headHash: anchor?.hash ?? GENESIS_HASH,
      hashAtHead: headSeq === base ? GENESIS_HASH : undefined,
      expected: base + 1,
      prevHash: GENESIS_HASH,
      lastGoodCheckpoint: base,
      done: false,
    });
  }

  let count = 0;
  /** Of `count`, entries past their chain's anchor: intact and linked, but not yet under a keyed head. */
  let unanchored = 0;
  let next = 0; // walks before this one are finished
  const finish = (w: ChainWalk): ChainVerification | null => {
    if (w.expected <= w.headSeq)
      return problemOf(
        'truncated',
        w.expected,
        `Audit entries from ${entryName(w.expected)} to ${entryName(w.headSeq)} were removed from the end of ${w.chain ? `chain ${w.chain}` : 'the trail'}`,
        count,
      );
    if (w.hashAtHead !== w.headHash)
      return problemOf(
        'rewritten',
        w.lastGoodCheckpoint + 1,
        `The audit trail was rewritten after entry ${entryName(w.lastGoodCheckpoint)} (the last keyed checkpoint that agrees): entry ${entryName(w.headSeq)} does not match the keyed head`,
        count,
      );
    return null;
  };

  // The stored shape, through the driver: the hash is checked over `eventJson` exactly as stored.
  const rows = m.entries.collection as unknown as mongo.Collection<StoredAuditEntry>;
  for await (const entry of rows.find({}, { sort: { _id: 1 }, batchSize: 1000 })) {
    const chain = chainOf(entry._id);
    for (; next < walks.length && (walks[next] as ChainWalk).chain < chain; next++) {
      const problem = finish(walks[next] as ChainWalk);
      if (problem) return problem;
    }
    const w = walks[next]?.chain === chain ? walks[next] : undefined;
    if (!w || w.done) continue; // a chain registered after the register was read, or past a gap after its anchor
    if (!w.anchored) return problemOf('rewritten', entry._id, 'Audit entries exist but the keyed head of the trail is missing', count);
    if (entry._id !== w.expected) {
      if (w.expected <= w.headSeq && entry._id <= w.headSeq)
        return problemOf('removed', w.expected, `Audit entry ${entryName(w.expected)} is missing (next present entry is ${entryName(entry._id)})`, count + 1);
      w.done = true; // past the anchor: not yet anchored (or the anchored end is missing: `finish` says so)
      continue;
    }
    count += 1;
    if (entry.prevHash !== w.prevHash)
      return problemOf('chain-broken', entry._id, `Audit entry ${entryName(entry._id)} does not link to the entry before it`, count);
    if (!storedEntryIntact(entry)) return problemOf('altered', entry._id, `Audit entry ${entryName(entry._id)} was altered after it was written`, count);
    const cp = checkpoints.get(entry._id);
    if (cp) {
      if (!macMatches(key, cp._id, cp.hash, cp.mac))
        return problemOf('rewritten', cp._id, `The checkpoint at audit entry ${entryName(cp._id)} was not written with the audit key`, count);
      if (cp.hash !== entry.hash)
        return problemOf(
          'rewritten',
          w.lastGoodCheckpoint + 1,
          `The audit trail was rewritten: entries after ${entryName(w.lastGoodCheckpoint)} (the last keyed checkpoint that agrees) up to ${entryName(cp._id)} no longer match the checkpoint`,
          count,
        );
      if (cp._id <= w.headSeq) w.lastGoodCheckpoint = cp._id;
    }
    if (entry._id === w.headSeq) w.hashAtHead = entry.hash;
    if (entry._id > w.headSeq) unanchored += 1;
    w.prevHash = entry.hash;
    w.expected += 1;
  }
  for (; next < walks.length; next++) {
    const problem = finish(walks[next] as ChainWalk);
    if (problem) return problem;
  }
  const written = walks.filter((w) => w.expected > chainBase(w.chain) + 1).length;
  const pending = unanchored ? ` (${unanchored} of them after their chain's keyed head: being written, or left by a writer that stopped before moving it)` : '';
  return { ok: true, entries: count, message: `Audit trail intact: ${count} entries in ${written} chain${written === 1 ? '' : 's'}${pending}` };
}

/** The first entry after the newest checkpoint of a chain that still agrees with the stored entry. */
async function newestAgreeingCheckpoint(
  m: TrailModels,
  key: string,
  checkpoints: Map<number, AuditCheckpoint>,
  chain: number,
): Promise<{ from: number; text: string }> {
  const own = [...checkpoints.values()].filter((c) => chainOf(c._id) === chain).sort((a, b) => b._id - a._id);
  for (const cp of own) {
    if (!macMatches(key, cp._id, cp.hash, cp.mac)) continue;
    const e = await m.entries.findById(cp._id, { hash: 1 }).lean();
    if (e && e.hash === cp.hash) return { from: cp._id + 1, text: `after entry ${entryName(cp._id)} (the newest keyed checkpoint that still agrees)` };
  }
  return { from: chainBase(chain) + 1, text: 'from its first entry (no keyed checkpoint agrees)' };
}
