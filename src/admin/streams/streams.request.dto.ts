import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { MAX_PAGE } from './stream-inspection';

/**
 * A stream id as the tools accept it: 1-512 characters, no control characters, not starting with
 * `$` (those streams are the store's own).
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what it refuses
export const STREAM_ID_PATTERN = /^(?!\$)[^\u0000-\u001f\u007f]{1,512}$/;
export const STREAM_ID_RULE =
  'a stream id is 1-512 characters without control characters, not starting with $';

export class StreamParamsDto {
  @ApiProperty({ example: 'conversation-alice~bob' })
  @Matches(STREAM_ID_PATTERN, { message: `stream_id must be ${STREAM_ID_RULE}` })
  stream_id!: string;
}

export class StreamEventsQueryDto {
  @ApiPropertyOptional({
    description:
      'First revision of the page (forwards, default 0) or last (backwards, default the newest): ' +
      'next_from_revision of the previous page',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  from_revision?: number;

  @ApiPropertyOptional({ description: `Events per page, default 100, at most ${MAX_PAGE}` })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE)
  limit?: number;

  @ApiPropertyOptional({ enum: ['forwards', 'backwards'], default: 'forwards' })
  @IsOptional()
  @IsIn(['forwards', 'backwards'])
  direction?: 'forwards' | 'backwards';
}

export class StreamListQueryDto {
  @ApiPropertyOptional({
    description: 'Streams whose id starts with this: a category with its dash, `conversation-`',
    example: 'user-',
  })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  prefix?: string;

  @ApiPropertyOptional({ description: 'next_after of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  after?: string;

  @ApiPropertyOptional({ description: `Streams per page, default 100, at most ${MAX_PAGE}` })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE)
  limit?: number;
}
