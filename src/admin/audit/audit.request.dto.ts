import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { DEFAULT_LIMIT, MAX_LIMIT, MAX_TEXT, MAX_TYPES } from './audit-query';

/**
 * `GET /admin/v1/audit` query parameters. Their shape is checked here; their meaning (actor kinds,
 * times, cursors) by `parseAuditQuery`, which the CLI shares.
 */
export class AuditQueryDto {
  @ApiPropertyOptional({
    description:
      'Who caused the events: `user:<uid>`, `admin:<id>` (`admin:admin-key` for the REST API, ' +
      '`admin:cli:<name>` for the CLI), `system:<id>`, or a kind alone (`admin`: every administrator)',
    example: 'user:alice',
  })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_TEXT + 7)
  actor?: string;

  @ApiPropertyOptional({ description: 'One stream, e.g. `group-tea`', example: 'group-tea' })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_TEXT)
  stream?: string;

  @ApiPropertyOptional({
    description: "Streams of a category (a stream id's part before its first dash)",
    example: 'conversation',
  })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  category?: string;

  @ApiPropertyOptional({
    description: `Event types, any of them: repeat the parameter or separate by commas (at most ${MAX_TYPES})`,
    type: [String],
    example: ['MessageRecalled'],
  })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? [value] : value))
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_TYPES)
  @IsString({ each: true })
  @MaxLength(128 * MAX_TYPES, { each: true })
  type?: string[];

  @ApiPropertyOptional({
    description:
      'What the events did, where one type covers several actions: GroupMembersLeft kicked, quit ' +
      'or removed; MessageRecalled recall or sys_cancel; AdminOperationRecorded its outcome (docs/admin/audit.md)',
    example: 'kicked',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  action?: string;

  @ApiPropertyOptional({
    description:
      'Recorded at or after (inclusive): ISO-8601 date (midnight UTC) or date-time with a zone',
    example: '2026-12-05T00:00:00Z',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  from?: string;

  @ApiPropertyOptional({
    description: 'Recorded before (exclusive): ISO-8601, as `from`',
    example: '2026-12-06',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  to?: string;

  @ApiPropertyOptional({
    description: "The correlation id: a request's X-Request-Id, or one CLI run",
  })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_TEXT)
  correlation_id?: string;

  @ApiPropertyOptional({
    description:
      'What the events are about: a msg_key, the target user of a follow, block, kick or mute, a token id (docs/admin/audit.md)',
  })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_TEXT)
  subject?: string;

  @ApiPropertyOptional({ description: 'next_cursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  cursor?: string;

  @ApiPropertyOptional({
    description: `Events per page, 1 to ${MAX_LIMIT}, default ${DEFAULT_LIMIT}`,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_LIMIT)
  limit?: number;
}

export class AuditActorDto {
  @ApiProperty({ enum: ['user', 'admin', 'system'] })
  kind!: string;
  @ApiProperty({ type: String, nullable: true })
  id!: string | null;
}

export class AuditEventDto {
  @ApiProperty({ description: "The event's position in the log, `<commit>/<prepare>`" })
  position!: string;
  @ApiProperty({ format: 'uuid' })
  event_id!: string;
  @ApiProperty()
  stream_id!: string;
  @ApiProperty({ description: '0-based revision within its stream' })
  revision!: number;
  @ApiProperty({ example: 'GroupMembersLeft' })
  type!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'kicked',
    description: 'What it did, where its type covers several actions',
  })
  action!: string | null;
  @ApiProperty({ type: AuditActorDto, nullable: true })
  actor!: AuditActorDto | null;
  @ApiProperty({ type: String, nullable: true })
  ip!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'X-Device-Id, or platform:<n>' })
  device!: string | null;
  @ApiProperty({ type: String, nullable: true })
  correlation_id!: string | null;
  @ApiProperty({ type: String, nullable: true })
  causation_id!: string | null;
  @ApiProperty({ description: 'When the store recorded it (its commit time), ISO-8601 UTC' })
  recorded_at!: string;
  @ApiProperty({ type: String, nullable: true, description: 'When the command was decided' })
  decided_at!: string | null;
  @ApiProperty({ type: [String], description: 'What it is about: ids, never content' })
  subjects!: string[];
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEventDto], description: 'Newest first' })
  events!: AuditEventDto[];
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass back as cursor for the next, older page; null on the last page',
  })
  next_cursor!: string | null;
}
