// Hostile-input tests: whatever the bytes, decoding either succeeds or throws KafkaDecodeError,
// and it never allocates from an unchecked length or loops without consuming input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ApiVersionsRequestSchema,
  ApiVersionsResponseSchema,
  FetchResponseSchema,
  MetadataRequestSchema,
} from "../generated/messages.js";
import { decodeFromBuffer, decodeMessage, encodeToBuffer } from "./codec.js";
import type { KafkaDecodeErrorCode } from "./errors.js";
import { KafkaDecodeError } from "./errors.js";
import { decodeRequestHeader } from "./header.js";
import { Reader } from "./reader.js";
import { ALL_SCHEMAS, prng, sampleValue, versionsOf } from "./sample-values.js";
import type { MessageSchema } from "./schema.js";

const TEST_TIMEOUT_MS = 120_000;
const FLIPS_PER_VERSION = 40;
const RANDOM_INPUTS_PER_SCHEMA = 100;
const RANDOM_INPUT_MAX_BYTES = 64;

/** Decodes and returns the error; fails the test if anything but KafkaDecodeError is thrown. */
function tryDecode(
  schema: MessageSchema,
  version: number,
  buf: Buffer,
  end = buf.length,
): KafkaDecodeError | null {
  try {
    decodeMessage(schema, version, new Reader(buf, 0, end));
    return null;
  } catch (err) {
    if (err instanceof KafkaDecodeError) return err;
    throw new assert.AssertionError({
      message: `${schema.name} v${version} threw ${(err as Error)?.name}: ${(err as Error)?.message} for ${buf.subarray(0, end).toString("hex")}`,
    });
  }
}

function expectCode(code: KafkaDecodeErrorCode, fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KafkaDecodeError, `expected KafkaDecodeError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ""), "hex");
}

describe("decode robustness", () => {
  it("every truncation of every sample message throws KafkaDecodeError", { timeout: TEST_TIMEOUT_MS }, () => {
    for (const schema of ALL_SCHEMAS) {
      for (const version of versionsOf(schema)) {
        const bytes = encodeToBuffer(schema, version, sampleValue(schema, version, false));
        for (let end = 0; end < bytes.length; end++) {
          // The reader's end is inside a larger buffer: the bytes after it must stay unread.
          const err = tryDecode(schema, version, bytes, end);
          assert.ok(err, `${schema.name} v${version} decoded from ${end} of ${bytes.length} bytes`);
        }
      }
    }
  });

  it("random bit flips and byte overwrites decode or throw KafkaDecodeError", {
    timeout: TEST_TIMEOUT_MS,
  }, () => {
    const rand = prng(0x5eed);
    for (const schema of ALL_SCHEMAS) {
      for (const version of versionsOf(schema)) {
        for (const nulls of [false, true]) {
          const bytes = encodeToBuffer(schema, version, sampleValue(schema, version, nulls));
          if (bytes.length === 0) continue;
          for (let i = 0; i < FLIPS_PER_VERSION; i++) {
            const copy = Buffer.from(bytes);
            const at = Math.floor(rand() * copy.length);
            if (i % 2 === 0) copy[at] ^= 1 << Math.floor(rand() * 8);
            else copy[at] = Math.floor(rand() * 256);
            tryDecode(schema, version, copy);
          }
        }
      }
    }
  });

  it("random garbage decodes or throws KafkaDecodeError", { timeout: TEST_TIMEOUT_MS }, () => {
    const rand = prng(42);
    for (const schema of ALL_SCHEMAS) {
      const version = schema.validVersions[1];
      for (let i = 0; i < RANDOM_INPUTS_PER_SCHEMA; i++) {
        const buf = Buffer.alloc(Math.floor(rand() * RANDOM_INPUT_MAX_BYTES));
        for (let j = 0; j < buf.length; j++) buf[j] = rand() < 0.3 ? 0xff : Math.floor(rand() * 256);
        tryDecode(schema, version, buf);
        try {
          decodeRequestHeader(new Reader(buf));
        } catch (err) {
          assert.ok(err instanceof KafkaDecodeError, String(err));
        }
      }
    }
  });

  it("rejects huge array counts before allocating", () => {
    expectCode("LENGTH_TOO_LARGE", () => decodeFromBuffer(MetadataRequestSchema, 1, hex("7fffffff")));
    // Compact count 2^32 - 2.
    expectCode("LENGTH_TOO_LARGE", () => decodeFromBuffer(MetadataRequestSchema, 9, hex("ffffffff0f")));
    // 3 topics need at least 3 * 2 bytes (int16 name lengths); only 4 are left.
    expectCode("LENGTH_TOO_LARGE", () =>
      decodeFromBuffer(MetadataRequestSchema, 1, hex("00000003 0000 0000")),
    );
    // Each Fetch response topic needs >= 2 (name) + 4 (partition count) bytes.
    expectCode("LENGTH_TOO_LARGE", () =>
      decodeFromBuffer(FetchResponseSchema, 0, hex("00000003 0000 00000000 0000 00000000")),
    );
  });

  it("rejects bad lengths, nulls, varints and versions with stable codes", () => {
    expectCode("NEGATIVE_LENGTH", () => decodeFromBuffer(MetadataRequestSchema, 1, hex("00000001 fffe")));
    expectCode("NEGATIVE_LENGTH", () => decodeFromBuffer(MetadataRequestSchema, 1, hex("fffffffe")));
    expectCode("UNEXPECTED_NULL", () => decodeFromBuffer(MetadataRequestSchema, 1, hex("00000001 ffff")));
    expectCode("UNEXPECTED_NULL", () => decodeFromBuffer(MetadataRequestSchema, 0, hex("ffffffff")));
    expectCode("LENGTH_TOO_LARGE", () => decodeFromBuffer(MetadataRequestSchema, 1, hex("00000001 7fff 61")));
    expectCode("VARINT_TOO_LONG", () => decodeFromBuffer(MetadataRequestSchema, 9, hex("ffffffffff01")));
    expectCode("VARINT_TOO_LONG", () => decodeFromBuffer(MetadataRequestSchema, 9, hex("ffffffff1f")));
    expectCode("UNDERFLOW", () => decodeFromBuffer(MetadataRequestSchema, 9, hex("ffff")));
    expectCode("UNSUPPORTED_VERSION", () => decodeFromBuffer(MetadataRequestSchema, 13, hex("00")));
    expectCode("TRAILING_BYTES", () => decodeFromBuffer(MetadataRequestSchema, 1, hex("ffffffff 00")));
    expectCode("INT64_UNSAFE", () => new Reader(hex("7fffffffffffffff")).int64());
    expectCode("INT64_UNSAFE", () => new Reader(hex("ffdfffffffffffff")).int64());
    assert.equal(new Reader(hex("ffe0000000000001")).int64(), -(2 ** 53) + 1);
  });

  it("bounds the tagged-field section", () => {
    // Empty client name and version, then 2^32 - 1 tagged fields.
    expectCode("LENGTH_TOO_LARGE", () =>
      decodeFromBuffer(ApiVersionsRequestSchema, 3, hex("01 01 ffffffff0f")),
    );
    const head = "0000 01 00000000";
    // Known tag 1 (int64) declared as 9 bytes: one byte left unread.
    expectCode("TAGGED_FIELD_SIZE", () =>
      decodeFromBuffer(ApiVersionsResponseSchema, 3, hex(`${head} 01 01 09 0000000000000005 00`)),
    );
    // Declared as 7 bytes: the int64 cannot read past the field.
    expectCode("UNDERFLOW", () =>
      decodeFromBuffer(ApiVersionsResponseSchema, 3, hex(`${head} 01 01 07 0000000000000005`)),
    );
    // Unknown tags are skipped.
    const decoded = decodeFromBuffer(
      ApiVersionsResponseSchema,
      3,
      hex(`${head} 02 01 08 0000000000000005 63 02 abcd`),
    );
    assert.equal(decoded.finalizedFeaturesEpoch, 5);
  });
});
