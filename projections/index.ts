import { MessagesProjector } from './messages.projector';
import type { Projector } from './projector';
import { SessionsProjector } from './sessions.projector';
import { UsersProjector } from './users.projector';

/** Every read-model projector of the product. */
export function allProjectors(): Projector[] {
  return [new UsersProjector(), new MessagesProjector(), new SessionsProjector()];
}
