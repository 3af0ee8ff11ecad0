import type { RecordedEvent } from '../../event-store/event-store.port';
import { categoryOf, matcher } from './export-events';

const at = (streamId: string, iso: string) =>
  ({ streamId, createdAt: new Date(iso) }) as RecordedEvent;

describe('export filters', () => {
  it("take a stream's category from its id up to the first dash", () => {
    expect(categoryOf('conversation-alice~bob')).toBe('conversation');
    expect(categoryOf('user-a-b')).toBe('user');
    expect(categoryOf('plain')).toBe('plain');
  });

  it('pass events of any stream or category named, within [since, until)', () => {
    const matches = matcher({
      streams: ['group-tea'],
      categories: ['user'],
      since: new Date('2026-12-01T00:00:00Z'),
      until: new Date('2026-12-02T00:00:00Z'),
    });
    expect(matches(at('group-tea', '2026-12-01T00:00:00Z'))).toBe(true);
    expect(matches(at('user-alice', '2026-12-01T23:59:59.999Z'))).toBe(true);
    expect(matches(at('group-coffee', '2026-12-01T10:00:00Z'))).toBe(false);
    expect(matches(at('user-alice', '2026-12-02T00:00:00Z'))).toBe(false);
    expect(matches(at('user-alice', '2026-11-30T23:59:59.999Z'))).toBe(false);
  });

  it('pass everything without a filter', () => {
    expect(matcher({})(at('anything-1', '1999-01-01T00:00:00Z'))).toBe(true);
  });
});
