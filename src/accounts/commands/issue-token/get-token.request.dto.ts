import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsString, Matches, Max, Min } from 'class-validator';

export const UID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const UID_RULE = 'a user id is 1-64 characters of A-Z a-z 0-9 _ . -';

/** The seed gateway's `POST /inner/get_token` request. */
export class GetTokenRequestDto {
  @ApiProperty({ description: 'The user id (registered on first use)', example: 'alice' })
  @IsString()
  @Matches(UID_PATTERN, { message: `session must be a user id: ${UID_RULE}` })
  session!: string;

  @ApiProperty({
    description: 'Client platform (1 iOS, 2 Android, 3 H5, 4 PC, 7 Web…)',
    example: 1,
  })
  @IsInt()
  @Min(0)
  @Max(255)
  platform!: number;
}
