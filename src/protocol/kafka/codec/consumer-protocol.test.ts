import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeConsumerAssignment,
  decodeConsumerSubscription,
  encodeConsumerAssignment,
  encodeConsumerSubscription,
} from "./consumer-protocol.js";

describe("consumer protocol payloads", () => {
  it("round trips a v3 subscription and a v3 assignment", () => {
    const sub = {
      topics: ["a", "b"],
      userData: null,
      ownedPartitions: [{ topic: "a", partitions: [0, 1] }],
      generationId: 4,
      rackId: "r1",
    };
    const decoded = decodeConsumerSubscription(encodeConsumerSubscription(sub, 3));
    assert.deepStrictEqual(decoded, { version: 3, value: sub });
    const asg = { assignedPartitions: [{ topic: "a", partitions: [1] }], userData: Buffer.from("u") };
    assert.deepStrictEqual(decodeConsumerAssignment(encodeConsumerAssignment(asg, 3)), {
      version: 3,
      value: asg,
    });
  });

  it("parses a newer version with the newest known layout, ignoring appended fields", () => {
    const v3 = encodeConsumerSubscription(
      { topics: ["t"], userData: null, ownedPartitions: [], generationId: 1, rackId: null },
      3,
    );
    const v9 = Buffer.concat([Buffer.from([0, 9]), v3.subarray(2), Buffer.from("future fields")]);
    const decoded = decodeConsumerSubscription(v9);
    assert.equal(decoded.version, 9);
    assert.deepStrictEqual(decoded.value.topics, ["t"]);
    assert.equal(decoded.value.generationId, 1);
  });

  it("fills fields absent in old versions with defaults", () => {
    const v0 = encodeConsumerSubscription(
      {
        topics: ["t"],
        userData: null,
        ownedPartitions: [{ topic: "x", partitions: [1] }],
        generationId: 7,
        rackId: "r",
      },
      0,
    );
    assert.deepStrictEqual(decodeConsumerSubscription(v0).value, {
      topics: ["t"],
      userData: null,
      ownedPartitions: [],
      generationId: -1,
      rackId: null,
    });
  });
});
