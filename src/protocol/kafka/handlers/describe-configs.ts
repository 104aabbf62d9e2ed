/**
 * DescribeConfigs (key 32), v0-4 (v4 flexible).
 *   Request: resources [resource_type (2 topic, 4 broker), resource_name, configuration_keys
 *            (nullable = all)], include_synonyms (v1+), include_documentation (v3+).
 *   Response: throttle_time_ms, results [error_code, error_message, resource_type,
 *             resource_name, configs [name, value, read_only, is_default (v0), config_source
 *             (v1+), is_sensitive, synonyms (v1+), config_type (v3+), documentation (v3+)]].
 */
import { defineApi, type RequestContext } from "../api.js";
import { errorOf } from "../errors.js";
import { ErrorCode } from "../generated/error-codes.js";
import {
  DescribeConfigs,
  type DescribeConfigsRequest,
  type DescribeConfigsResponse,
  type DescribeConfigsResponseResourceResult,
} from "../generated/messages.js";

const ResourceType = { topic: 2, broker: 4 } as const;
/** Kafka's ConfigSource: 1 topic override, 4 static broker config, 5 default. */
const ConfigSource = { topic: 1, staticBroker: 4, default: 5 } as const;

function brokerConfigs(ctx: RequestContext): Record<string, string> {
  return {
    "auto.create.topics.enable": String(ctx.engine.autoCreateTopics),
    "num.partitions": String(ctx.engine.defaultPartitions),
    "default.replication.factor": "1",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "log.retention.ms": "604800000",
    "message.max.bytes": "1048588",
    "socket.request.max.bytes": String(100 * 1024 * 1024),
  };
}

export const DescribeConfigsApi = defineApi<DescribeConfigsRequest, DescribeConfigsResponse>({
  key: DescribeConfigs.apiKey,
  name: DescribeConfigs.name,
  minVersion: 0,
  maxVersion: 4,
  request: DescribeConfigs.request,
  response: DescribeConfigs.response,
  handle(req, ctx) {
    const results = req.resources.map((r) => {
      const base = { resourceType: r.resourceType, resourceName: r.resourceName };
      const want = (name: string) => r.configurationKeys === null || r.configurationKeys.includes(name);
      try {
        let configs: DescribeConfigsResponseResourceResult[];
        if (r.resourceType === ResourceType.topic) {
          configs = ctx.engine
            .describeTopicConfigs(r.resourceName)
            .filter((c) => want(c.name))
            .map((c) => ({
              name: c.name,
              value: c.value,
              readOnly: false,
              isDefault: c.isDefault,
              configSource: c.isDefault ? ConfigSource.default : ConfigSource.topic,
              isSensitive: false,
              synonyms: [],
              configType: 0,
              documentation: null,
            }));
        } else if (r.resourceType === ResourceType.broker) {
          if (r.resourceName !== "" && r.resourceName !== "0") {
            return {
              ...base,
              errorCode: ErrorCode.INVALID_REQUEST,
              errorMessage: `unknown broker ${r.resourceName}`,
              configs: [],
            };
          }
          configs = Object.entries(brokerConfigs(ctx))
            .filter(([name]) => want(name))
            .map(([name, value]) => ({
              name,
              value,
              readOnly: true,
              isDefault: false,
              configSource: ConfigSource.staticBroker,
              isSensitive: false,
              synonyms: [],
              configType: 0,
              documentation: null,
            }));
        } else {
          return {
            ...base,
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage: `unsupported resource type ${r.resourceType}`,
            configs: [],
          };
        }
        return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
      } catch (err) {
        const e = errorOf(err);
        return { ...base, errorCode: e.code, errorMessage: e.message, configs: [] };
      }
    });
    return { throttleTimeMs: 0, results };
  },
});
