import { EventLog1763769600000 } from '../../migrations/1763769600000-event-log';
import { ReadModels1763769700000 } from '../../migrations/1763769700000-read-models';
import { UserKeys1763769800000 } from '../../migrations/1763769800000-user-keys';
import { Groups1764979200000 } from '../../migrations/1764979200000-groups';
import { CheckpointStore1765065600000 } from '../../migrations/1765065600000-checkpoint-store';
import { Audit1765152000000 } from '../../migrations/1765152000000-audit';
import { MessageErasure1765238400000 } from '../../migrations/1765238400000-message-erasure';
import { ProjectionProgress1765324800000 } from '../../migrations/1765324800000-projection-progress';
import { ReadAllGenericPlan1765411200000 } from '../../migrations/1765411200000-read-all-generic-plan';

/** Every migration, in order. Listed explicitly so the build and the tests run the same set. */
export const MIGRATIONS = [
  EventLog1763769600000,
  ReadModels1763769700000,
  UserKeys1763769800000,
  Groups1764979200000,
  CheckpointStore1765065600000,
  Audit1765152000000,
  MessageErasure1765238400000,
  ProjectionProgress1765324800000,
  ReadAllGenericPlan1765411200000,
];
