import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AdminKeyGuard } from '../../accounts/auth.guards';
import { Public } from '../../common/http/request-context';
import { parseAuditQuery } from './audit-query';
import { AuditPage, AuditReader } from './audit-reader';
import { AuditPageDto, AuditQueryDto } from './audit.request.dto';

/** The audit log over REST, for administrators (X-Admin-Key): `npm run admin -- audit` too. */
@ApiTags('admin: audit')
@ApiHeader({ name: 'X-Admin-Key', required: true })
@ApiSecurity('admin-key')
@Public()
@UseGuards(AdminKeyGuard)
@Controller('admin/v1/audit')
export class AuditHttpController {
  constructor(private readonly reader: AuditReader) {}

  @Get()
  @ApiOperation({
    summary: 'Who did what, when and from where: events newest first, filtered, paged by cursor',
    description:
      'Every filter given narrows the result (AND). Metadata and ids only, never content. ' +
      'See docs/admin/audit.md.',
  })
  @ApiResponse({ status: 200, type: AuditPageDto })
  list(@Query() q: AuditQueryDto): Promise<AuditPage> {
    return this.reader.query(
      parseAuditQuery({
        actor: q.actor,
        stream: q.stream,
        category: q.category,
        types: q.type,
        action: q.action,
        from: q.from,
        to: q.to,
        correlationId: q.correlation_id,
        subject: q.subject,
        cursor: q.cursor,
        limit: q.limit,
      }),
    );
  }
}
