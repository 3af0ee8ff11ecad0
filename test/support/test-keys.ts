/** One master key for every test: data keys written by one test app are readable by another. */
export const TEST_MASTER_KEY = Buffer.alloc(32, 7);
