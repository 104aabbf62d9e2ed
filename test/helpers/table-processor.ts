/**
 * A stream processor built on OnceDB as a library, run as a child process by
 * test/tables-exactly-once.test.ts so that it can be killed with SIGKILL mid-stream:
 *
 *   node table-processor.js seed DIR N     topic "payments" with N records (key = account, value
 *                                          {amount}), tables "accounts" and "applied"
 *   node table-processor.js process DIR    reads payments from the group's committed offset; for
 *                                          each slice adds the amounts to the accounts' balances and
 *                                          records each payment in "applied", committing the rows
 *                                          and the next offset together (engine.tables.commit)
 *   node table-processor.js report DIR     prints {balances, applied, committed} as JSON
 *
 * Adding to a balance is not idempotent: a payment applied twice (or lost) shows in the total.
 */
import { decodeRecords, encodeBatch } from "../../src/log/records.js";
import { OnceDB } from "../../src/oncedb.js";
import type { RowWrite } from "../../src/tables/tables.js";

const GROUP = "payments-into-accounts";
const SLICE = 40;

async function main(): Promise<void> {
  const [mode, dir, n] = process.argv.slice(2);
  const db = await OnceDB.start({ dataDir: dir!, kafka: null });
  const e = db.engine;
  try {
    if (mode === "seed") {
      await e.createTopic("payments", 1);
      await e.tables.create("accounts");
      await e.tables.create("applied", { attributes: [{ name: "offset", type: "Long", indexed: true }] });
      const count = Number(n);
      for (let i = 0; i < count; i += 100) {
        const records = [];
        for (let j = i; j < Math.min(count, i + 100); j++)
          records.push({
            key: Buffer.from(`acct-${j % 7}`),
            value: Buffer.from(JSON.stringify({ amount: j + 1 })),
          });
        await e.append("payments", 0, encodeBatch({ records }));
      }
      return;
    }
    if (mode === "report") {
      const balances = Object.fromEntries(
        (
          JSON.parse(
            e.tables.query("accounts", {
              conditions: [],
              offset: 0,
              limit: undefined,
              sort: [],
              select: undefined,
            }).json,
          ) as {
            id: string;
            balance: number;
          }[]
        ).map((r) => [r.id, r.balance]),
      );
      const applied = e.tables.describe("applied").records;
      const committed = e.committedOffset(GROUP, "payments", 0)?.offset ?? 0;
      process.stdout.write(`${JSON.stringify({ balances, applied, committed })}\n`);
      return;
    }
    // process
    const p = e.partition("payments", 0)!;
    for (;;) {
      const committed = e.committedOffset(GROUP, "payments", 0)?.offset ?? null;
      const from = committed ?? 0;
      if (from >= p.highWatermark) break;
      const records = e
        .readBatchesNow("payments", 0, from, 64 * 1024)
        .flatMap((b) => decodeRecords(b) ?? [])
        .filter((r) => r.offset >= from)
        .slice(0, SLICE);
      const sums = new Map<string, number>();
      const applied: RowWrite[] = [];
      for (const r of records) {
        const acct = r.key!.toString();
        const { amount } = JSON.parse(r.value!.toString()) as { amount: number };
        sums.set(acct, (sums.get(acct) ?? 0) + amount);
        applied.push({ kind: "insert", record: { id: `p${r.offset}`, offset: r.offset } });
      }
      const accounts: RowWrite[] = [...sums].map(([id, amount]) => {
        const cur = e.tables.get("accounts", id);
        const balance = (cur ? (JSON.parse(cur) as { balance: number }).balance : 0) + amount;
        return { kind: "put", id, record: { balance } };
      });
      const next = records[records.length - 1]!.offset + 1;
      await e.tables.commit(
        [
          { table: "accounts", writes: accounts },
          { table: "applied", writes: applied },
        ],
        {
          offsets: {
            groupId: GROUP,
            // Fenced: refused if another processor moved the offset since we read it.
            entries: [
              {
                topic: "payments",
                partition: 0,
                offset: next,
                leaderEpoch: -1,
                metadata: null,
                expectedOffset: committed,
              },
            ],
          },
        },
      );
      process.stdout.write(`committed ${next}\n`);
    }
    process.stdout.write("done\n");
  } finally {
    await db.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
