/**
 * Every Kafka API OnceDB serves, with the versions it serves. ApiVersions advertises exactly
 * this table, so adding an API here is what makes clients use it.
 */
import type { KafkaApi } from "./api.js";
import { AddOffsetsToTxnApi } from "./handlers/add-offsets-to-txn.js";
import { AddPartitionsToTxnApi } from "./handlers/add-partitions-to-txn.js";
import { AlterConfigsApi } from "./handlers/alter-configs.js";
import { ApiVersionsApi, advertised } from "./handlers/api-versions.js";
import { CreatePartitionsApi } from "./handlers/create-partitions.js";
import { CreateTopicsApi } from "./handlers/create-topics.js";
import { DeleteGroupsApi } from "./handlers/delete-groups.js";
import { DeleteRecordsApi } from "./handlers/delete-records.js";
import { DeleteTopicsApi } from "./handlers/delete-topics.js";
import { DescribeConfigsApi } from "./handlers/describe-configs.js";
import { DescribeGroupsApi } from "./handlers/describe-groups.js";
import { DescribeProducersApi } from "./handlers/describe-producers.js";
import { DescribeTransactionsApi } from "./handlers/describe-transactions.js";
import { EndTxnApi } from "./handlers/end-txn.js";
import { FetchApi } from "./handlers/fetch.js";
import { FindCoordinatorApi } from "./handlers/find-coordinator.js";
import { HeartbeatApi } from "./handlers/heartbeat.js";
import { IncrementalAlterConfigsApi } from "./handlers/incremental-alter-configs.js";
import { InitProducerIdApi } from "./handlers/init-producer-id.js";
import { JoinGroupApi } from "./handlers/join-group.js";
import { LeaveGroupApi } from "./handlers/leave-group.js";
import { ListGroupsApi } from "./handlers/list-groups.js";
import { ListOffsetsApi } from "./handlers/list-offsets.js";
import { ListTransactionsApi } from "./handlers/list-transactions.js";
import { MetadataApi } from "./handlers/metadata.js";
import { OffsetCommitApi } from "./handlers/offset-commit.js";
import { OffsetDeleteApi } from "./handlers/offset-delete.js";
import { OffsetFetchApi } from "./handlers/offset-fetch.js";
import { ProduceApi } from "./handlers/produce.js";
import { SyncGroupApi } from "./handlers/sync-group.js";
import { TxnOffsetCommitApi } from "./handlers/txn-offset-commit.js";

// biome-ignore lint/suspicious/noExplicitAny: a table of handlers with different request/response types
const apis: KafkaApi<any, any>[] = [
  ProduceApi,
  FetchApi,
  ListOffsetsApi,
  MetadataApi,
  OffsetCommitApi,
  OffsetFetchApi,
  FindCoordinatorApi,
  JoinGroupApi,
  HeartbeatApi,
  LeaveGroupApi,
  SyncGroupApi,
  DescribeGroupsApi,
  ListGroupsApi,
  ApiVersionsApi,
  CreateTopicsApi,
  DeleteTopicsApi,
  DeleteRecordsApi,
  DescribeConfigsApi,
  AlterConfigsApi,
  IncrementalAlterConfigsApi,
  CreatePartitionsApi,
  DeleteGroupsApi,
  OffsetDeleteApi,
  InitProducerIdApi,
  AddPartitionsToTxnApi,
  AddOffsetsToTxnApi,
  EndTxnApi,
  TxnOffsetCommitApi,
  DescribeProducersApi,
  DescribeTransactionsApi,
  ListTransactionsApi,
];

export const API_TABLE: ReadonlyMap<number, KafkaApi> = new Map(apis.map((a) => [a.key, a as KafkaApi]));
advertised.apis = API_TABLE;
