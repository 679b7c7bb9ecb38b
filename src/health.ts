// Readiness per role: each role is ready when what *it* needs answers. Ingest needs only the bus (or,
// with the spool on, room in the spool), so an Elasticsearch outage does not take ingest pods out of
// their Service; detect, alert and index need the bus and the store. Embedded mode also needs a data
// directory it can write to, with room left: a full disk is not ready, whatever else answers.
import { randomBytes } from 'node:crypto';
import { open, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bus } from './bus/types.ts';
import type { Role } from './config/schema.ts';
import type { Store } from './store/types.ts';

/** What a role can need. `spool` stands in for `bus` on ingest when the spool is on. */
export type Dependency = 'bus' | 'store' | 'spool' | 'disk';

export interface ReadinessDeps {
  roles: readonly Role[];
  bus: Bus;
  store: Store;
  /** The ingest spool, when on: ingest stays ready while it has room, even with the bus down. */
  spool?: { problem(): string | undefined };
  /** Embedded mode: the data directory of the bus and the store, checked for free space and a write. */
  dataDir?: string;
  /** Below this many free bytes in `dataDir`, nothing that writes there is ready. */
  minFreeBytes?: number;
  /** Per dependency. */
  timeoutMs?: number;
}

export interface Readiness {
  ready: boolean;
  /** Every dependency checked: "ok" or what is wrong with it. */
  checks: Partial<Record<Dependency, string>>;
  /** What keeps this process from being ready, naming the roles that need it. Empty when ready. */
  missing: string[];
}

/** Each role's needs; an inner array is "any of" (ingest: the bus, or the spool when there is one). */
export function requirements(roles: readonly Role[], opts: { spool: boolean; disk: boolean }) {
  const needs: Array<{ role: Role; anyOf: Dependency[] }> = [];
  for (const role of roles) {
    if (role === 'ingest') needs.push({ role, anyOf: opts.spool ? ['bus', 'spool'] : ['bus'] });
    else needs.push({ role, anyOf: ['bus'] }, { role, anyOf: ['store'] });
    if (opts.disk) needs.push({ role, anyOf: ['disk'] });
  }
  return needs;
}

async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Free space above the threshold and a small write that reaches the disk (ENOSPC, EROFS, EIO show here). */
export async function checkDisk(dir: string, minFreeBytes: number): Promise<string | undefined> {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  if (free < minFreeBytes)
    return `full: ${mib(free)} MiB free in ${dir}, below the ${mib(minFreeBytes)} MiB minimum`;
  const probe = join(dir, `.readyz-${randomBytes(4).toString('hex')}`);
  try {
    const fh = await open(probe, 'w', 0o600);
    try {
      await fh.write(randomBytes(512));
      await fh.datasync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    return `not writable: ${(err as Error).message}`;
  } finally {
    await unlink(probe).catch(() => {});
  }
  return undefined;
}

const mib = (n: number) => Math.floor(n / 1024 / 1024);

/** A readiness check for this process's roles, run on every /readyz. */
export function readinessCheck(deps: ReadinessDeps): () => Promise<Readiness> {
  const timeoutMs = deps.timeoutMs ?? 3000;
  const needs = requirements(deps.roles, { spool: !!deps.spool, disk: !!deps.dataDir });
  const probes: Record<Dependency, () => Promise<string | undefined>> = {
    bus: async () => void (await within(timeoutMs, deps.bus.ping())),
    store: async () => void (await within(timeoutMs, deps.store.ping())),
    spool: async () => deps.spool?.problem(),
    disk: () => within(timeoutMs, checkDisk(deps.dataDir!, deps.minFreeBytes ?? 64 * 1024 * 1024)),
  };
  return async () => {
    const wanted = [...new Set(needs.flatMap((n) => n.anyOf))];
    const results = await Promise.all(
      wanted.map(async (dep): Promise<[Dependency, string]> => {
        try {
          const problem = await probes[dep]();
          return [dep, problem ?? 'ok'];
        } catch (err) {
          return [dep, `unreachable: ${(err as Error).message}`];
        }
      }),
    );
    const checks = Object.fromEntries(results) as Partial<Record<Dependency, string>>;
    const unmet = new Map<string, Role[]>();
    for (const { role, anyOf } of needs) {
      if (anyOf.some((d) => checks[d] === 'ok')) continue;
      const what = anyOf.join(' or ');
      unmet.set(what, [...(unmet.get(what) ?? []), role]);
    }
    const missing = [...unmet].map(
      ([what, roles]) => `${what} (needed by ${[...new Set(roles)].join(', ')})`,
    );
    return { ready: missing.length === 0, checks, missing };
  };
}
