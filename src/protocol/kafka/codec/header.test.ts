import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { APIS, ApiKey, RequestHeaderSchema, ResponseHeaderSchema } from "../generated/messages.js";
import { decodeFromBuffer, encodeMessage } from "./codec.js";
import {
  decodeRequestHeader,
  decodeResponseHeader,
  encodeRequestHeader,
  encodeResponseHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from "./header.js";
import { Reader } from "./reader.js";
import { Writer } from "./writer.js";

describe("request and response headers", () => {
  it("derives header versions from each API's flexible versions", () => {
    assert.equal(requestHeaderVersion(ApiKey.Produce, 8), 1);
    assert.equal(requestHeaderVersion(ApiKey.Produce, 9), 2);
    assert.equal(responseHeaderVersion(ApiKey.Produce, 8), 0);
    assert.equal(responseHeaderVersion(ApiKey.Produce, 9), 1);
    assert.equal(requestHeaderVersion(ApiKey.Metadata, 9), 2);
    assert.equal(requestHeaderVersion(ApiKey.Fetch, 11), 1);
    assert.equal(requestHeaderVersion(ApiKey.Fetch, 12), 2);
    assert.equal(requestHeaderVersion(ApiKey.SaslHandshake, 1), 1, "never flexible");
    assert.equal(responseHeaderVersion(ApiKey.SaslHandshake, 1), 0);
    // ApiVersions: flexible request header from v3, but responses always use header v0.
    assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 2), 1);
    assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 3), 2);
    assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 99), 2, "too-new versions are still flexible");
    for (let v = 0; v <= 4; v++) assert.equal(responseHeaderVersion(ApiKey.ApiVersions, v), 0);
    assert.equal(requestHeaderVersion(7, 0), 0, "ControlledShutdown v0");
    assert.equal(requestHeaderVersion(1000, 0), 1, "unknown API");
    for (const api of APIS) {
      const first = api.request.flexibleVersions?.[0];
      for (let v = api.request.validVersions[0]; v <= api.request.validVersions[1]; v++) {
        const flexible = first !== undefined && v >= first;
        assert.equal(requestHeaderVersion(api.apiKey, v), flexible ? 2 : 1, `${api.name} v${v}`);
        if (api.apiKey !== ApiKey.ApiVersions) {
          assert.equal(responseHeaderVersion(api.apiKey, v), flexible ? 1 : 0, `${api.name} v${v}`);
        }
      }
    }
  });

  it("agrees with the generic codec on the generated RequestHeader/ResponseHeader schemas", () => {
    for (const headerVersion of [0, 1, 2]) {
      for (const clientId of ["client-é", null, ""]) {
        const header = {
          apiKey: 3,
          apiVersion: 12,
          correlationId: -5,
          clientId: headerVersion === 0 ? null : clientId,
        };
        const w = new Writer();
        encodeRequestHeader(w, header, headerVersion);
        const bytes = w.toBuffer();
        const generic = new Writer();
        encodeMessage(
          RequestHeaderSchema,
          headerVersion,
          { requestApiKey: 3, requestApiVersion: 12, correlationId: -5, clientId: header.clientId },
          generic,
        );
        assert.deepStrictEqual(bytes, generic.toBuffer(), `header v${headerVersion}`);
        assert.deepStrictEqual(decodeRequestHeader(new Reader(bytes), headerVersion), header);
        const viaSchema = decodeFromBuffer(RequestHeaderSchema, headerVersion, bytes);
        if (headerVersion >= 1) assert.equal(viaSchema.clientId, header.clientId);
      }
    }
    for (const headerVersion of [0, 1]) {
      const w = new Writer();
      encodeResponseHeader(w, 77, headerVersion);
      const bytes = w.toBuffer();
      assert.deepStrictEqual(decodeFromBuffer(ResponseHeaderSchema, headerVersion, bytes), {
        correlationId: 77,
      });
      assert.equal(decodeResponseHeader(new Reader(bytes), headerVersion), 77);
    }
  });

  it("skips unknown tagged fields in a v2 request header", () => {
    const bytes = Buffer.from("0012000300000009ffff0205016101020304", "hex");
    const r = new Reader(bytes);
    assert.deepStrictEqual(decodeRequestHeader(r), {
      apiKey: 18,
      apiVersion: 3,
      correlationId: 9,
      clientId: null,
    });
    assert.equal(r.remaining(), 0);
  });
});
