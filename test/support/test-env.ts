export const TEMPLATE_DB = 'im_template';

export interface TestEnv {
  readonly adminUrl: string;
  readonly root: string;
}

/** The run's PostgreSQL, as left by the global setup in the environment the workers inherit. */
export function readTestEnv(): TestEnv {
  const raw = process.env.IM_TEST_ENV;
  if (!raw) throw new Error('IM_TEST_ENV is not set: run the tests through jest (npm test)');
  return JSON.parse(raw) as TestEnv;
}
