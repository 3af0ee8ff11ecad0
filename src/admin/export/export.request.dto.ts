import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
} from 'class-validator';
import { STREAM_ID_PATTERN, STREAM_ID_RULE } from '../streams/streams.request.dto';
import { CATEGORY_PATTERN } from './export-events';

/** Streams or categories one export may name. */
export const MAX_FILTER_ITEMS = 100;

const asList = ({ value }: { value: unknown }) => (typeof value === 'string' ? [value] : value);

export class ExportQueryDto {
  @ApiPropertyOptional({
    description: 'Only these streams (repeat the parameter)',
    type: [String],
    example: ['group-tea'],
  })
  @IsOptional()
  @Transform(asList)
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_FILTER_ITEMS)
  @Matches(STREAM_ID_PATTERN, { each: true, message: `each stream must be ${STREAM_ID_RULE}` })
  stream?: string[];

  @ApiPropertyOptional({
    description: "Only streams of these categories: the id's part before its first dash (repeat)",
    type: [String],
    example: ['conversation'],
  })
  @IsOptional()
  @Transform(asList)
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_FILTER_ITEMS)
  @Matches(CATEGORY_PATTERN, {
    each: true,
    message: 'each category must be 1-64 characters of A-Z a-z 0-9 _',
  })
  category?: string[];

  @ApiPropertyOptional({
    description: 'Recorded at or after (inclusive): ISO-8601 date (UTC) or date-time with a zone',
    example: '2026-12-01',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  since?: string;

  @ApiPropertyOptional({ description: 'Recorded before (exclusive), as `since`' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  until?: string;

  @ApiPropertyOptional({
    description:
      "Carry the data keys the events need: their sealed content's (wrapped under the master key) " +
      "and erased users' (destroyed), " +
      'one line each after the events: `true` or `false` (default)',
    enum: ['true', 'false'],
  })
  @IsOptional()
  @IsIn(['true', 'false'])
  with_keys?: 'true' | 'false';
}
