import { ConfigError } from './config/app-config';
import { startServer } from './server';

describe('startServer', () => {
  it('refuses a projector process that would run no projection, before starting anything', async () => {
    const starting = startServer(
      { PROJECTIONS: 'off', DATA_DIR: '/nonexistent' },
      { role: 'projector' },
    );
    await expect(starting).rejects.toThrow(ConfigError);
    await expect(starting).rejects.toThrow(/PROJECTIONS: off leaves a projector process nothing/);
  });
});
