import { PositionWaiters } from './position-waiters';

const at = (n: number) => ({ commit: BigInt(n), prepare: BigInt(n) });
const settled = async (p: Promise<void>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

describe('PositionWaiters', () => {
  it('ends the waits at or below a reached position, and only those', async () => {
    const waiters = new PositionWaiters();
    const early = waiters.wait(at(5));
    const late = waiters.wait(at(9));
    waiters.reached(at(5));
    expect(await settled(early)).toBe(true);
    expect(await settled(late)).toBe(false);
    expect(waiters.size).toBe(1);
    waiters.reached(at(10));
    expect(await settled(late)).toBe(true);
    expect(waiters.size).toBe(0);
  });

  it('ends an aborted wait, which leaves the list and its signal', async () => {
    const waiters = new PositionWaiters();
    const controller = new AbortController();
    const removed = jest.spyOn(controller.signal, 'removeEventListener');
    const wait = waiters.wait(at(3), controller.signal);
    controller.abort();
    expect(await settled(wait)).toBe(true);
    expect(waiters.size).toBe(0);
    expect(removed).toHaveBeenCalledWith('abort', expect.any(Function));
    expect(await settled(waiters.wait(at(3), controller.signal))).toBe(true);
  });

  it('ends every wait on releaseAll', async () => {
    const waiters = new PositionWaiters();
    const waits = [waiters.wait(at(1)), waiters.wait(at(2))];
    waiters.releaseAll();
    expect(await Promise.all(waits.map(settled))).toEqual([true, true]);
    expect(waiters.size).toBe(0);
  });
});
