import { Injectable, PipeTransform, ValidationError, ValidationPipe } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { Errors } from '../errors';

function flatten(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((e) => {
    const path = parent ? `${parent}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) =>
      m.startsWith(e.property) ? m.replace(e.property, path) : `${path}: ${m}`,
    );
    return [...own, ...flatten(e.children ?? [], path)];
  });
}

/**
 * Validates every DTO: unknown fields are rejected (not silently dropped), types are not coerced
 * from the wrong JSON type, and each problem is named.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    exceptionFactory: (errors) => {
      const problems = flatten(errors);
      return Errors.validation(problems.join('; ') || 'invalid request', problems);
    },
  });
}

/** The first string inside `value` that PostgreSQL could not store, as a path, or null. */
function badTextPath(value: unknown, path: string, depth: number): string | null {
  if (typeof value === 'string') {
    return value.isWellFormed() && !value.includes('\u0000') ? null : path || 'value';
  }
  if (depth > 8 || value === null || typeof value !== 'object') return null;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const found =
      badTextPath(key, path, depth + 1) ??
      badTextPath(item, path ? `${path}.${key}` : key, depth + 1);
    if (found) return found;
  }
  return null;
}

/**
 * Rejects any body, query or path string holding U+0000 or an unpaired UTF-16 surrogate: neither
 * can be stored in PostgreSQL text or jsonb, so they must fail here as a 400, not later as a 500.
 */
@Injectable()
export class StorableTextPipe implements PipeTransform {
  transform(value: unknown): unknown {
    const path = badTextPath(value, '', 0);
    if (path) {
      throw Errors.validation(`${path} holds a NUL character or an unpaired UTF-16 surrogate`);
    }
    return value;
  }
}

/**
 * A payload that arrived outside HTTP (a Socket.IO event) as a validated DTO, under the same rules
 * as the HTTP pipes: an object, storable text, no unknown fields, no coerced types.
 * @throws DomainError 40000 naming each problem.
 */
export function parsePayload<T extends object>(cls: new () => T, payload: unknown): T {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw Errors.validation('the payload must be a JSON object');
  }
  const path = badTextPath(payload, '', 0);
  if (path) {
    throw Errors.validation(`${path} holds a NUL character or an unpaired UTF-16 surrogate`);
  }
  const dto = plainToInstance(cls, payload, { enableImplicitConversion: false });
  const errors = validateSync(dto, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length > 0) {
    const problems = flatten(errors);
    throw Errors.validation(problems.join('; ') || 'invalid payload', problems);
  }
  return dto;
}
