/**
 * Topic configuration: Kafka's topic-config names, their defaults, and which ones OnceDB acts on.
 * Unknown names are rejected (INVALID_CONFIG) as Kafka does. Names we accept but do not act on
 * (they concern segments, replication or compaction, which a single SQLite file does not have)
 * are stored and described so that tools that set them keep working.
 */
import { EngineError } from "./errors.js";

export const TOPIC_CONFIG_DEFAULTS: Readonly<Record<string, string>> = {
  "cleanup.policy": "delete",
  "compression.type": "producer",
  "delete.retention.ms": "86400000",
  "file.delete.delay.ms": "60000",
  "flush.messages": "9223372036854775807",
  "flush.ms": "9223372036854775807",
  "index.interval.bytes": "4096",
  "max.compaction.lag.ms": "9223372036854775807",
  "max.message.bytes": "1048588",
  "message.downconversion.enable": "true",
  "message.timestamp.difference.max.ms": "9223372036854775807",
  "message.timestamp.type": "CreateTime",
  "min.cleanable.dirty.ratio": "0.5",
  "min.compaction.lag.ms": "0",
  "min.insync.replicas": "1",
  preallocate: "false",
  "retention.bytes": "-1",
  "retention.ms": "604800000",
  "segment.bytes": "1073741824",
  "segment.index.bytes": "10485760",
  "segment.jitter.ms": "0",
  "segment.ms": "604800000",
  "unclean.leader.election.enable": "false",
};

/** Values we act on must parse; the rest are only checked to be known names. */
export function validateTopicConfigs(
  configs: Readonly<Record<string, string | null>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(configs)) {
    if (!Object.hasOwn(TOPIC_CONFIG_DEFAULTS, name))
      throw new EngineError("INVALID_CONFIG", `unknown topic config ${name}`);
    if (value === null) continue;
    switch (name) {
      case "retention.ms":
      case "retention.bytes":
        if (!/^-?\d+$/.test(value) || Number(value) < -1) {
          throw new EngineError("INVALID_CONFIG", `${name} must be an integer >= -1, got ${value}`);
        }
        break;
      case "max.message.bytes":
        if (!/^\d+$/.test(value) || Number(value) < 64) {
          throw new EngineError("INVALID_CONFIG", `${name} must be an integer >= 64, got ${value}`);
        }
        break;
      case "cleanup.policy":
        if (value !== "delete") {
          throw new EngineError("INVALID_CONFIG", `cleanup.policy ${value} is not supported (only delete)`);
        }
        break;
      case "message.timestamp.type":
        if (value !== "CreateTime") {
          throw new EngineError(
            "INVALID_CONFIG",
            `message.timestamp.type ${value} is not supported (only CreateTime)`,
          );
        }
        break;
    }
    out[name] = value;
  }
  return out;
}

export interface EffectiveTopicConfig {
  readonly retentionMs: number;
  readonly retentionBytes: number;
  readonly maxMessageBytes: number;
}

/** Every topic config with its value: the override if set, else Kafka's default. */
export function topicConfigEntries(
  overrides: Readonly<Record<string, string>>,
): { name: string; value: string; isDefault: boolean }[] {
  return Object.entries(TOPIC_CONFIG_DEFAULTS).map(([name, def]) => ({
    name,
    value: overrides[name] ?? def,
    isDefault: !Object.hasOwn(overrides, name),
  }));
}

export function effectiveConfig(overrides: Readonly<Record<string, string>>): EffectiveTopicConfig {
  const get = (name: string) => Number(overrides[name] ?? TOPIC_CONFIG_DEFAULTS[name]);
  return {
    retentionMs: get("retention.ms"),
    retentionBytes: get("retention.bytes"),
    maxMessageBytes: get("max.message.bytes"),
  };
}

/** Kafka's rule: 1-249 characters of [a-zA-Z0-9._-], and not "." or "..". */
export const TOPIC_NAME_LENGTH_MAX = 249;

export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return "topic name is empty";
  if (name.length > TOPIC_NAME_LENGTH_MAX)
    return `topic name longer than ${TOPIC_NAME_LENGTH_MAX} characters`;
  if (name === "." || name === "..") return `topic name cannot be "${name}"`;
  if (!/^[a-zA-Z0-9._-]+$/.test(name))
    return "topic name may contain only ASCII letters, digits, '.', '_' and '-'";
  return null;
}
