import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsInt, IsString, IsUrl, MaxLength, MinLength, ValidateIf } from 'class-validator';

export class ProfileDto {
  @ApiProperty({ description: 'Display name' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  name!: string;

  @ApiProperty({ description: 'Avatar URL (http or https), or empty' })
  @IsString()
  @MaxLength(1024)
  @ValidateIf((o: ProfileDto) => o.face !== '')
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true })
  face!: string;

  @ApiProperty({ description: '-1 none, 0 personal, 1 organisation' })
  @IsInt()
  @IsIn([-1, 0, 1])
  official_type!: number;

  @ApiProperty({
    description:
      '0 a person; a system account: 1 live assistant, 7 UP assistant, 8 customer service',
  })
  @IsInt()
  @IsIn([0, 1, 7, 8])
  system_msg_type!: number;
}
