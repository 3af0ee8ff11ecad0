import type { KeyRing } from '../src/crypto/key-ring';
import { AuditProjector } from './audit.projector';
import { GroupsProjector } from './groups.projector';
import { MessagesProjector } from './messages.projector';
import type { Projector } from './projector';
import { RelationsProjector } from './relations.projector';
import { SessionsProjector } from './sessions.projector';
import { UsersProjector } from './users.projector';

/** Every read-model projector of the product; message content is opened with `keyRing`. */
export function allProjectors(keyRing: KeyRing): Projector[] {
  return [
    new UsersProjector(),
    new MessagesProjector(keyRing),
    new SessionsProjector(),
    new RelationsProjector(),
    new GroupsProjector(),
    new AuditProjector(),
  ];
}
