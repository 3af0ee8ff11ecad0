/**
 * The node-level services a client asks before anything else: ServerFeatures (which methods the
 * server implements; the Node client uses BatchAppend for appends only if it is listed) and
 * Gossip (a one-member cluster, only read by clients in discovery mode).
 */
import { randomUUID } from 'node:crypto';
import type { IGossipServer } from '@eventstore/db-client/generated/gossip_grpc_pb';
import { ClusterInfo, EndPoint, MemberInfo } from '@eventstore/db-client/generated/gossip_pb';
import type { IServerFeaturesServer } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import {
  SupportedMethod,
  SupportedMethods,
} from '@eventstore/db-client/generated/serverfeatures_pb';
import { uuidToDto } from './uuid';

/** The server version reported; the modelled behaviour follows EventStoreDB 23.10 to 24.10. */
export const SERVER_VERSION = '24.10.0';

const STREAMS = 'event_store.client.streams.streams';

/**
 * ServerFeatures.GetSupportedMethods as `ServerFeatures.cs` builds it: lower-case service and
 * method names, with the features the real server attaches to them.
 */
export function serverFeaturesService(advertiseBatchAppend: boolean): IServerFeaturesServer {
  const method = (serviceName: string, methodName: string, features: string[] = []) =>
    new SupportedMethod()
      .setServiceName(serviceName)
      .setMethodName(methodName)
      .setFeaturesList(features);
  const methods = [
    method(STREAMS, 'read', ['position', 'events']),
    method(STREAMS, 'append'),
    ...(advertiseBatchAppend ? [method(STREAMS, 'batchappend', ['deadline_duration'])] : []),
    method('event_store.client.gossip.gossip', 'read'),
    method('event_store.client.server_features.serverfeatures', 'getsupportedmethods'),
  ];
  const supported = new SupportedMethods()
    .setEventStoreServerVersion(SERVER_VERSION)
    .setMethodsList(methods);
  return { getSupportedMethods: (_call, callback) => callback(null, supported) };
}

/** Gossip.Read: this node alone, alive and leader, reachable at the public address. */
export function gossipService(address: () => { host: string; port: number }): IGossipServer {
  const instanceId = randomUUID();
  return {
    read: (_call, callback) => {
      const { host, port } = address();
      const member = new MemberInfo()
        .setInstanceId(uuidToDto(instanceId, 'structured'))
        .setTimeStamp(String(BigInt(Date.now()) * 10_000n))
        .setState(MemberInfo.VNodeState.LEADER)
        .setIsAlive(true)
        .setHttpEndPoint(new EndPoint().setAddress(host).setPort(port));
      callback(null, new ClusterInfo().setMembersList([member]));
    },
  };
}
