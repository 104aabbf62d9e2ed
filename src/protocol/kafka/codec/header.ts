// Kafka request and response headers. The header version is not on the wire: it follows from
// the API key and version (flexible API versions use the flexible header), so it is derived
// from the generated schemas' flexibleVersions.
import { API_BY_KEY, ApiKey } from "../generated/messages.js";
import type { Reader } from "./reader.js";
import { inRange } from "./schema.js";
import type { Writer } from "./writer.js";

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  /** Null when the client sent a null client id (or header v0). */
  clientId: string | null;
}

/** ControlledShutdown v0 is the only request that uses request header v0. */
const CONTROLLED_SHUTDOWN_API_KEY = 7;

/**
 * Request header version for an API version: 2 (flexible: tagged fields) when the API version is
 * flexible, else 1. Versions above an API's known range are treated as flexible when the API's
 * flexible range is open-ended, as Kafka does, so a too-new ApiVersions request still parses.
 * Unknown API keys get 1.
 */
export function requestHeaderVersion(apiKey: number, apiVersion: number): number {
  const api = API_BY_KEY.get(apiKey);
  if (api === undefined) return apiKey === CONTROLLED_SHUTDOWN_API_KEY && apiVersion === 0 ? 0 : 1;
  return inRange(api.request.flexibleVersions, apiVersion) ? 2 : 1;
}

/**
 * Response header version: 1 (with tagged fields) for flexible API versions, else 0. ApiVersions
 * responses always use v0 so a client can read the reply to any ApiVersions version it tries.
 */
export function responseHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === ApiKey.ApiVersions) return 0;
  const api = API_BY_KEY.get(apiKey);
  if (api === undefined) return 0;
  return inRange(api.response.flexibleVersions, apiVersion) ? 1 : 0;
}

/**
 * Reads a request header. `headerVersion` defaults to the one implied by the apiKey and
 * apiVersion just read. The client id is a classic (int16-length) nullable string in every
 * header version, also in flexible v2; header tagged fields are skipped.
 */
export function decodeRequestHeader(r: Reader, headerVersion?: number): RequestHeader {
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  const version = headerVersion ?? requestHeaderVersion(apiKey, apiVersion);
  const clientId = version >= 1 ? r.nullableString(false) : null;
  if (version >= 2) r.skipTaggedFields();
  return { apiKey, apiVersion, correlationId, clientId };
}

export function encodeRequestHeader(w: Writer, header: RequestHeader, headerVersion?: number): void {
  const version = headerVersion ?? requestHeaderVersion(header.apiKey, header.apiVersion);
  w.int16(header.apiKey);
  w.int16(header.apiVersion);
  w.int32(header.correlationId);
  if (version >= 1) w.nullableString(header.clientId, false);
  if (version >= 2) w.uvarint(0);
}

export function encodeResponseHeader(w: Writer, correlationId: number, headerVersion: number): void {
  w.int32(correlationId);
  if (headerVersion >= 1) w.uvarint(0);
}

/** Reads a response header and returns its correlation id. */
export function decodeResponseHeader(r: Reader, headerVersion: number): number {
  const correlationId = r.int32();
  if (headerVersion >= 1) r.skipTaggedFields();
  return correlationId;
}
