import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { SNAPSHOT_ID } from './time-travel';

export class ProjectionsDto {
  @ApiPropertyOptional({
    type: [String],
    description: 'Projections to work on (users, messages, sessions, …); all when left out',
    example: ['sessions'],
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(64)
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  projections?: string[];
}

export class VerifyDto extends ProjectionsDto {
  @ApiPropertyOptional({
    description:
      'Rows shown per table and side of a difference (counts are complete); 20 by default',
    minimum: 0,
    maximum: 1000,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1000)
  max_rows?: number;
}

export class JobParamsDto {
  @IsUUID('4', { message: 'job_id must be the job_id a start returned' })
  job_id!: string;
}

export class TimeTravelDto {
  @ApiPropertyOptional({
    description:
      'ISO 8601 date (midnight UTC) or date and time with a zone (Z or ±hh:mm): the read models ' +
      'as they were then (up to the last event recorded at or before it)',
    example: '2025-12-09T09:00:00Z',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  at?: string;

  @ApiPropertyOptional({
    description:
      'Or a position of the log, `commit/prepare` (as GET /admin/v1/projections shows them)',
    example: '1234/5678',
  })
  @IsOptional()
  @Matches(/^\d{1,20}\/\d{1,20}$/, { message: 'position must be commit/prepare, e.g. 1234/5678' })
  position?: string;
}

export class SnapshotParamsDto {
  @Matches(SNAPSHOT_ID, { message: 'id must be a time-travel snapshot id' })
  id!: string;
}

/** A started job: where to follow it. */
export class JobStartedDto {
  @ApiProperty()
  job_id!: string;
  @ApiProperty({ enum: ['rebuild', 'verify', 'time-travel'] })
  kind!: string;
  @ApiProperty({ enum: ['running', 'completed', 'differs', 'failed', 'interrupted'] })
  status!: string;
}
