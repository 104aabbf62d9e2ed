import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { APIS } from "../generated/messages.js";
import { decodeFromBuffer, defaultValue, encodeToBuffer } from "./codec.js";
import { ALL_SCHEMAS, expectedDecoded, sampleValue, versionsOf } from "./sample-values.js";

describe("round trip of every generated schema at every version", () => {
  for (const schema of ALL_SCHEMAS) {
    it(`${schema.name} v${schema.validVersions[0]}-${schema.validVersions[1]}`, () => {
      for (const version of versionsOf(schema)) {
        for (const nulls of [false, true]) {
          const value = sampleValue(schema, version, nulls);
          const bytes = encodeToBuffer(schema, version, value);
          const decoded = decodeFromBuffer(schema, version, bytes);
          assert.deepStrictEqual(
            decoded,
            expectedDecoded(schema, version, value),
            `v${version} nulls=${nulls}`,
          );
          // Re-encoding what was decoded gives the same bytes.
          assert.deepStrictEqual(encodeToBuffer(schema, version, decoded), bytes, `re-encode v${version}`);
        }
        // A value with no fields encodes all defaults and decodes to the default value.
        const empty = encodeToBuffer(schema, version, {} as never);
        assert.deepStrictEqual(
          decodeFromBuffer(schema, version, empty),
          defaultValue(schema),
          `defaults v${version}`,
        );
      }
    });
  }

  it("generates all 33 requested APIs with matching request/response versions", () => {
    assert.equal(APIS.length, 33);
    for (const api of APIS) {
      assert.deepStrictEqual(api.request.validVersions, api.response.validVersions, api.name);
      assert.equal(api.request.apiKey, api.apiKey);
      assert.equal(api.response.apiKey, api.apiKey);
    }
  });
});
