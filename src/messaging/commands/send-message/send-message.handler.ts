import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import type { Pool } from 'pg';
import { UserDirectory } from '../../../accounts/user-directory';
import { Errors } from '../../../common/errors';
import { MsgKeyGenerator } from '../../../common/ids';
import type { Executed } from '../../../common/stream-command-processor';
import { APP_SETTINGS, AppSettings } from '../../../config/app-config';
import { Clock } from '../../../core/clock';
import { PG_POOL } from '../../../core/core.module';
import { KeyDestroyedError, KeyRing } from '../../../crypto/key-ring';
import type { EventMetadata } from '../../../event-store/event-store.port';
import { messagingRefusal } from '../../../relations/domain/user-relations';
import { UserRelationsStore } from '../../../relations/user-relations.store';
import { managesGroup, sendRefusal } from '../../../groups/domain/group';
import { GroupStore } from '../../../groups/group.store';
import { GroupErrors } from '../../../groups/groups.errors';
import { AT_ALL, groupConversationId } from '../../../groups/groups.events';
import { CONTENT_CATALOGS } from '../../messaging.tokens';
import type { ContentCatalogs } from '../../domain/content-catalogs';
import { validateContent } from '../../domain/content';
import { ConversationStore } from '../../conversation.store';
import { privateConversationId, RecallTargetUnknown, SendResult } from '../../domain/conversation';
import { findEmoticons } from '../../domain/emoticons';
import { matchKeywordRules } from '../../domain/keyword-rules';
import { MSG_TYPE_RECALL } from '../../messaging.events';
import { parseMsgKey } from '../../msg-key';
import { Refund, SendLimits } from '../../send-limits';

import { SendMessageCommand, SendMessageInput, SentMessage } from './send-message.command';

const NO_EXTRAS = { eInfos: [], keyHitInfos: null, msgContent: null } as const;

/** Where a send goes and what its checks decided. */
interface SendTarget {
  readonly conversationId: string;
  /** A system account's notice: no rate limits, no one-message rule. */
  readonly system: boolean;
  readonly receiverFollowsSender: boolean;
  /** The mentions kept (a group's members; "@all" from its owner or admins). */
  readonly atUids: readonly string[] | null;
}

/**
 * Sends a one-to-one or group message, or recalls one (msg_type 5). A group send checks the group
 * instead of the users' relations (groupTarget). One-to-one checks in the seed's order: the
 * receiver exists; rate limits (21020, 21046); blocks and privacy (25005, 25003, from the users'
 * relation aggregates); content (21035, 21007, 21037); then the conversation aggregate decides
 * (21026, dev_id retry, 21047, recall rules) and the content goes into the event sealed with the
 * sender's data key.
 */
@CommandHandler(SendMessageCommand)
export class SendMessageHandler implements ICommandHandler<SendMessageCommand, SentMessage> {
  constructor(
    private readonly conversations: ConversationStore,
    private readonly users: UserDirectory,
    private readonly relations: UserRelationsStore,
    private readonly limits: SendLimits,
    private readonly groups: GroupStore,
    private readonly keyRing: KeyRing,
    @Inject(CONTENT_CATALOGS) private readonly catalogs: ContentCatalogs,
    private readonly keys: MsgKeyGenerator,
    private readonly clock: Clock,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(APP_SETTINGS) private readonly settings: AppSettings,
  ) {}

  async execute({ input, metadata }: SendMessageCommand): Promise<SentMessage> {
    const target =
      input.receiverType === 2 ? await this.groupTarget(input) : await this.userTarget(input);
    const sending = { ...input, atUids: target.atUids };
    const { conversationId, system } = target;
    if (input.msgType === MSG_TYPE_RECALL) {
      // A recall is a message too: it counts against the sender's rate and daily cap.
      const executed = await this.limited(sending, conversationId, system, () =>
        this.recall(sending, conversationId, system, metadata),
      );
      return { ...executed.result, position: executed.position, ...NO_EXTRAS };
    }
    const { valid, sealed } = await this.sealContent(sending, system);
    const { result, position } = await this.limited(sending, conversationId, system, () =>
      this.conversations.execute(
        {
          ...sending,
          kind: 'SendMessage',
          conversationId,
          content: sealed,
          msgKey: this.keys.next(),
          nowUs: this.clock.nowUs(),
          receiverFollowsSender: target.receiverFollowsSender,
          system,
        },
        metadata,
      ),
    );
    const text = valid.text;
    // The seed's keyword hits and echoed content belong to one-to-one messages only.
    const oneToOne = text !== null && input.receiverType === 1;
    return {
      ...result,
      position,
      eInfos: text ? findEmoticons(text, this.catalogs.emoticons, input.newFaceVersion) : [],
      keyHitInfos: oneToOne ? matchKeywordRules(text, this.catalogs.keywordRules) : null,
      msgContent: oneToOne ? valid.content : null,
    };
  }

  /** A one-to-one send's checks: the receiver exists, and blocks and privacy allow it. */
  private async userTarget(input: SendMessageInput): Promise<SendTarget> {
    if (input.receiverId === input.senderUid) throw Errors.sendToSelf();
    if (!(await this.users.exists(input.receiverId))) throw Errors.userNotFound(input.receiverId);
    const system = input.system === true;
    const [sender, receiver] = await Promise.all([
      this.relations.read(input.senderUid),
      this.relations.read(input.receiverId),
    ]);
    if (system && sender.systemMsgType === 0) {
      throw Errors.forbidden(`${input.senderUid} is not a system account (set its profile first)`);
    }
    const refusal = messagingRefusal(input.senderUid, sender, input.receiverId, receiver);
    if (refusal) throw refusal;
    return {
      conversationId: privateConversationId(input.senderUid, input.receiverId),
      system,
      receiverFollowsSender: receiver.follows.has(input.senderUid),
      atUids: input.atUids,
    };
  }

  /**
   * A group send's checks (receiver_type 2): the sender must be a member who may speak now (the
   * group aggregate, as this node last confirmed it within GROUP_CHECK_MAX_AGE_MS); `at_uids`
   * keeps the members it names, and "@all" only from an owner or admin. One append to the
   * group's conversation, whatever the number of members.
   */
  private async groupTarget(input: SendMessageInput): Promise<SendTarget> {
    const groupId = input.receiverId;
    const group = await this.groups.read(groupId);
    const refusal = sendRefusal(group, groupId, input.senderUid, this.clock.nowUs());
    if (refusal) throw refusal;
    let atUids = input.atUids;
    if (atUids && group.status === 'exists') {
      if (atUids.includes(AT_ALL) && !managesGroup(group, input.senderUid)) {
        throw GroupErrors.roleRequired('mention everyone (@all)');
      }
      atUids = [...new Set(atUids)].filter((uid) => uid === AT_ALL || group.members.has(uid));
    }
    return {
      conversationId: groupConversationId(groupId),
      system: false,
      receiverFollowsSender: true,
      atUids: atUids && atUids.length > 0 ? atUids : null,
    };
  }

  /** Validates the content (21035, 21007, 21037) and seals it with the sender's data key. */
  private async sealContent(input: SendMessageInput, system: boolean) {
    const valid = validateContent(input.msgType, input.content, {
      maxTextLength: this.settings.config.MAX_TEXT_LENGTH,
      system,
    });
    const sealed = await this.keyRing.encryptFor(input.senderUid, valid.content).catch((err) => {
      // An erased user's key is gone for good: they cannot write personal content again.
      throw err instanceof KeyDestroyedError ? Errors.accountErased(input.senderUid) : err;
    });
    return { valid, sealed };
  }

  /**
   * Runs a send within the sender's limits (21020, 21046). A send that does not end as a new
   * message (refused by the conversation, or a retried dev_id) gives its allowance back; a retried
   * dev_id is answered even when the sender has no allowance left.
   */
  private async limited(
    input: SendMessageInput,
    conversationId: string,
    system: boolean,
    run: () => Promise<Executed<SendResult>>,
  ): Promise<Executed<SendResult>> {
    if (system) return run();
    let refund: Refund;
    try {
      refund = await this.limits.take(input.senderUid);
    } catch (err) {
      const earlier = await this.conversations.earlierSend(
        conversationId,
        input.senderUid,
        input.devId,
      );
      if (earlier) return { result: earlier, position: null };
      throw err;
    }
    try {
      const executed = await run();
      if (executed.result.duplicate) refund();
      return executed;
    } catch (err) {
      refund();
      throw err;
    }
  }

  /** msg_type 5: the content is the msg_key of the sender's message to recall. */
  private async recall(
    input: SendMessageInput,
    conversationId: string,
    system: boolean,
    metadata: EventMetadata,
  ): Promise<Executed<SendResult>> {
    const target = parseMsgKey(input.content);
    if (target === null) {
      throw Errors.validation('a recall (msg_type 5) needs the msg_key to recall as its content');
    }
    try {
      return await this.conversations.execute(
        {
          kind: 'RecallMessage',
          conversationId,
          senderUid: input.senderUid,
          receiverType: input.receiverType,
          receiverId: input.receiverId,
          targetMsgKey: target,
          msgKey: this.keys.next(),
          nowUs: this.clock.nowUs(),
          devId: input.devId,
          msgSource: input.msgSource,
          system,
          windowUs: this.settings.config.RECALL_WINDOW_SECONDS * 1_000_000,
        },
        metadata,
      );
    } catch (err) {
      if (!(err instanceof RecallTargetUnknown)) throw err;
      // Not among the conversation's recent messages: older than any recall window, or unknown.
      const { rows } = await this.pool.query<{ sender_uid: string; msg_status: number }>(
        'SELECT sender_uid, msg_status FROM rm_messages WHERE msg_key = $1 AND conversation_id = $2',
        [target, conversationId],
      );
      const found = rows[0];
      if (!found) throw Errors.msgKeyNotFound(target);
      if (found.sender_uid !== input.senderUid) {
        throw Errors.forbidden('only the sender may recall a message');
      }
      if (found.msg_status !== 0) throw Errors.alreadyRecalled(target);
      throw Errors.recallWindowPassed(this.settings.config.RECALL_WINDOW_SECONDS);
    }
  }
}
