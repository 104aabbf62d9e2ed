import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ByteRateQuota, QUOTA_CLIENTS_MAX, QUOTA_THROTTLE_MS_MAX } from "./quota.js";

describe("ByteRateQuota", () => {
  it("lets a burst of one second's worth through, then asks for the time the debt takes to refill", () => {
    const q = new ByteRateQuota({ defaultBytesPerSec: 1000 });
    assert.equal(q.charge("a", 600, 0), 0);
    assert.equal(q.charge("a", 400, 0), 0);
    assert.equal(q.charge("a", 500, 0), 500, "500 bytes over at 1000 B/s: 500 ms");
    assert.equal(q.charge("a", 0, 500), 0, "paid back after the wait");
  });

  it("refills at the rate, never above the burst", () => {
    const q = new ByteRateQuota({ defaultBytesPerSec: 1000 });
    q.charge("a", 1000, 0);
    assert.equal(q.charge("a", 250, 250), 0, "250 ms refilled 250 bytes");
    assert.equal(q.charge("a", 2000, 60_000), 1000, "a long idle period refills one burst only");
  });

  it("keeps one bucket per client id", () => {
    const q = new ByteRateQuota({ defaultBytesPerSec: 1000 });
    assert.equal(q.charge("a", 3000, 0), 2000);
    assert.equal(q.charge("b", 1000, 0), 0);
  });

  it("gives listed client ids their own rate, and limits nobody else without a default", () => {
    const q = new ByteRateQuota({ perClient: { backfill: 100 } });
    assert.equal(q.charge("backfill", 300, 0), 2000);
    assert.equal(q.charge("other", 1e9, 0), 0);
    assert.equal(q.trackedClients, 1, "unlimited clients are not tracked");
    const both = new ByteRateQuota({ defaultBytesPerSec: 1000, perClient: { fast: 1e6 } });
    assert.equal(both.charge("fast", 5000, 0), 0);
    assert.equal(both.charge("slow", 5000, 0), 4000);
  });

  it("caps a single wait, and the debt with it", () => {
    const q = new ByteRateQuota({ defaultBytesPerSec: 1 });
    assert.equal(q.charge("a", 10_000_000, 0), QUOTA_THROTTLE_MS_MAX);
    assert.equal(q.charge("a", 0, QUOTA_THROTTLE_MS_MAX), 0, "after the longest wait the client is clear");
  });

  it("forgets the least recently charged client past its limit", () => {
    const q = new ByteRateQuota({ defaultBytesPerSec: 1000 });
    q.charge("first", 5000, 0);
    for (let i = 0; i < QUOTA_CLIENTS_MAX; i++) q.charge(`c${i}`, 1, 0);
    assert.equal(q.trackedClients, QUOTA_CLIENTS_MAX);
    assert.equal(q.charge("first", 0, 0), 0, "forgotten: starts with a full bucket");
  });

  it("refuses a rate that is not positive", () => {
    assert.throws(() => new ByteRateQuota({ defaultBytesPerSec: 0 }));
    assert.throws(() => new ByteRateQuota({ defaultBytesPerSec: Number.NaN }));
    assert.throws(() => new ByteRateQuota({ perClient: { a: -1 } }));
  });

  it("a client that waits as told never gets more than burst + rate x time", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(fc.record({ bytes: fc.integer({ min: 0, max: 5_000_000 }), idleMs: fc.nat(2000) }), {
          maxLength: 60,
        }),
        (rate, reads) => {
          const q = new ByteRateQuota({ defaultBytesPerSec: rate });
          let now = 0;
          let sent = 0;
          for (const r of reads) {
            now += r.idleMs;
            // What was sent before this read must be covered by the allowance up to now.
            assert.ok(sent <= rate + (rate * now) / 1000 + 1e-6, `sent ${sent} by ${now} ms at ${rate} B/s`);
            const wait = q.charge("c", r.bytes, now);
            assert.ok(wait >= 0 && wait <= QUOTA_THROTTLE_MS_MAX);
            sent += r.bytes;
            if (wait === QUOTA_THROTTLE_MS_MAX) return; // capped: the bound no longer applies
            now += wait;
          }
        },
      ),
    );
  });
});
