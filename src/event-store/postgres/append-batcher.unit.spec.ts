import { AppendBatcher } from './append-batcher';

interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (reason: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

type Results = readonly PromiseSettledResult<string>[];

interface Call {
  readonly requests: readonly string[];
  readonly done: Deferred<Results>;
}

/** A batch runner whose batches finish only when the test says so. */
class ControlledRunner {
  readonly calls: Call[] = [];
  running = 0;
  maxRunning = 0;

  readonly run = (requests: readonly string[]): Promise<Results> => {
    const done = deferred<Results>();
    this.calls.push({ requests: [...requests], done });
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    return done.promise.finally(() => this.running--);
  };

  batches(): string[][] {
    return this.calls.map((c) => [...c.requests]);
  }

  /** Completes batch `i`, each request answered with its upper-cased self. */
  succeed(i: number): void {
    this.calls[i].done.resolve(
      this.calls[i].requests.map((r) => ({ status: 'fulfilled', value: r.toUpperCase() })),
    );
  }

  fail(i: number, reason: unknown): void {
    this.calls[i].done.reject(reason);
  }
}

/** Lets the batcher start what it scheduled: batches start on the next turn of the event loop. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function setUp(maxConcurrentBatches: number, maxBatchSize: number) {
  const runner = new ControlledRunner();
  const batcher = new AppendBatcher<string, string>(runner.run, maxConcurrentBatches, maxBatchSize);
  return { runner, batcher };
}

describe('AppendBatcher', () => {
  it('runs a request on a quiet batcher on the next turn, alone', async () => {
    const { runner, batcher } = setUp(1, 10);
    const a = batcher.submit('a');
    expect(runner.batches()).toEqual([]);
    await turn();
    expect(runner.batches()).toEqual([['a']]);
    runner.succeed(0);
    await expect(a).resolves.toBe('A');
  });

  it('sends requests submitted in the same turn together', async () => {
    const { runner, batcher } = setUp(2, 10);
    const all = ['a', 'b', 'c'].map((r) => batcher.submit(r));
    await turn();
    expect(runner.batches()).toEqual([['a', 'b', 'c']]);
    runner.succeed(0);
    await expect(Promise.all(all)).resolves.toEqual(['A', 'B', 'C']);
  });

  it('groups requests arriving while a batch is in flight into the next batch', async () => {
    const { runner, batcher } = setUp(1, 10);
    const a = batcher.submit('a');
    await turn();
    const rest = ['b', 'c', 'd'].map((r) => batcher.submit(r));
    await turn();
    expect(runner.batches()).toEqual([['a']]);

    runner.succeed(0);
    await expect(a).resolves.toBe('A');
    await turn();
    expect(runner.batches()).toEqual([['a'], ['b', 'c', 'd']]);

    const e = batcher.submit('e');
    await turn();
    expect(runner.calls).toHaveLength(2);
    runner.succeed(1);
    await expect(Promise.all(rest)).resolves.toEqual(['B', 'C', 'D']);
    await turn();
    expect(runner.batches()).toEqual([['a'], ['b', 'c', 'd'], ['e']]);
    runner.succeed(2);
    await expect(e).resolves.toBe('E');
  });

  it('lets every caller answered by a batch that appends again at once join one next batch', async () => {
    // Given writers that append again as soon as they are answered
    const { runner, batcher } = setUp(1, 100);
    const writers = ['w1', 'w2', 'w3', 'w4'];
    const rounds = new Map(writers.map((w) => [w, 0]));
    const loop = async (w: string) => {
      while (rounds.get(w)! < 3) {
        await batcher.submit(`${w}#${rounds.get(w)}`);
        rounds.set(w, rounds.get(w)! + 1);
      }
    };
    const done = Promise.all(writers.map(loop));
    // When each batch is answered in turn
    for (let i = 0; i < 3; i++) {
      await turn();
      runner.succeed(i);
      await turn();
    }
    await done;
    // Then each round of all four writers went out as one batch
    expect(runner.batches().map((b) => b.length)).toEqual([4, 4, 4]);
  });

  it('runs at most maxConcurrentBatches batches at once', async () => {
    const { runner, batcher } = setUp(2, 10);
    const a = batcher.submit('a');
    await turn();
    const b = batcher.submit('b');
    await turn();
    const queued = ['c', 'd', 'e'].map((r) => batcher.submit(r));
    await turn();
    expect(runner.batches()).toEqual([['a'], ['b']]);

    runner.succeed(1);
    await expect(b).resolves.toBe('B');
    await turn();
    expect(runner.batches()).toEqual([['a'], ['b'], ['c', 'd', 'e']]);
    expect(runner.running).toBe(2);

    runner.succeed(0);
    runner.succeed(2);
    await expect(Promise.all([a, ...queued])).resolves.toEqual(['A', 'C', 'D', 'E']);
    expect(runner.maxRunning).toBe(2);
  });

  it('never exceeds the limits under a steady stream of requests', async () => {
    const { runner, batcher } = setUp(3, 4);
    const submitted: string[] = [];
    const answers: Promise<string>[] = [];
    const submit = (n: number) => {
      for (let i = 0; i < n; i++) {
        const r = `r${submitted.length}`;
        submitted.push(r);
        answers.push(batcher.submit(r));
      }
    };
    submit(20);
    await turn();
    let next = 0;
    while (next < runner.calls.length) {
      expect(runner.running).toBeLessThanOrEqual(3);
      runner.succeed(next);
      await answers[submitted.indexOf(runner.calls[next].requests[0])];
      next++;
      if (submitted.length < 60) submit(5);
      await turn();
    }
    await expect(Promise.all(answers)).resolves.toEqual(submitted.map((r) => r.toUpperCase()));
    expect(runner.maxRunning).toBe(3);
    for (const batch of runner.batches()) expect(batch.length).toBeLessThanOrEqual(4);
    // Every request ran exactly once, in the order it was submitted.
    expect(runner.batches().flat()).toEqual(submitted);
  });

  it('splits a backlog into batches of at most maxBatchSize', async () => {
    const { runner, batcher } = setUp(1, 3);
    const a = batcher.submit('a');
    await turn();
    const backlog = ['b', 'c', 'd', 'e', 'f', 'g', 'h'].map((r) => batcher.submit(r));

    runner.succeed(0);
    await a;
    await turn();
    expect(runner.batches()).toEqual([['a'], ['b', 'c', 'd']]);
    runner.succeed(1);
    await backlog[0];
    await turn();
    expect(runner.batches()).toEqual([['a'], ['b', 'c', 'd'], ['e', 'f', 'g']]);
    runner.succeed(2);
    await backlog[3];
    await turn();
    expect(runner.batches()).toEqual([['a'], ['b', 'c', 'd'], ['e', 'f', 'g'], ['h']]);
    runner.succeed(3);
    await expect(Promise.all(backlog)).resolves.toEqual(['B', 'C', 'D', 'E', 'F', 'G', 'H']);
  });

  it('starts parallel batches of maxBatchSize when several slots free up', async () => {
    const { runner, batcher } = setUp(2, 2);
    const first = [batcher.submit('a'), batcher.submit('b'), batcher.submit('c')];
    await turn();
    expect(runner.batches()).toEqual([['a', 'b'], ['c']]);
    const backlog = ['d', 'e', 'f', 'g', 'h'].map((r) => batcher.submit(r));
    runner.succeed(0);
    runner.succeed(1);
    await Promise.all(first);
    await turn();
    expect(runner.batches()).toEqual([['a', 'b'], ['c'], ['d', 'e'], ['f', 'g']]);
    runner.succeed(2);
    runner.succeed(3);
    await Promise.all(backlog.slice(0, 4));
    await turn();
    expect(runner.batches().at(-1)).toEqual(['h']);
    runner.succeed(4);
    await expect(backlog[4]).resolves.toBe('H');
  });

  it('rejects only the request whose result is rejected', async () => {
    const { runner, batcher } = setUp(1, 10);
    const [b, c, d] = ['b', 'c', 'd'].map((r) => batcher.submit(r));
    await turn();
    const conflict = new Error('wrong expected version');
    runner.calls[0].done.resolve([
      { status: 'fulfilled', value: 'B' },
      { status: 'rejected', reason: conflict },
      { status: 'fulfilled', value: 'D' },
    ]);
    await expect(b).resolves.toBe('B');
    await expect(c).rejects.toBe(conflict);
    await expect(d).resolves.toBe('D');
  });

  it('rejects the whole batch when the runner fails, and still runs later batches', async () => {
    const { runner, batcher } = setUp(1, 10);
    const a = batcher.submit('a');
    await turn();
    const [b, c] = ['b', 'c'].map((r) => batcher.submit(r));
    const down = new Error('connection lost');

    runner.fail(0, down);
    await expect(a).rejects.toBe(down);
    await turn();
    expect(runner.batches()).toEqual([['a'], ['b', 'c']]);

    runner.fail(1, down);
    await expect(b).rejects.toBe(down);
    await expect(c).rejects.toBe(down);

    const d = batcher.submit('d');
    await turn();
    expect(runner.batches()).toEqual([['a'], ['b', 'c'], ['d']]);
    runner.succeed(2);
    await expect(d).resolves.toBe('D');
  });

  it('does not let a failed batch affect another batch running beside it', async () => {
    const { runner, batcher } = setUp(2, 10);
    const a = batcher.submit('a');
    await turn();
    const b = batcher.submit('b');
    await turn();
    const down = new Error('deadlock');
    runner.fail(0, down);
    await expect(a).rejects.toBe(down);
    runner.succeed(1);
    await expect(b).resolves.toBe('B');
  });

  it('frees the slot of a runner that throws synchronously', async () => {
    const boom = new Error('bad batch');
    const calls: string[][] = [];
    const batcher = new AppendBatcher<string, string>(
      (requests) => {
        calls.push([...requests]);
        if (requests.includes('bad')) throw boom;
        return Promise.resolve(requests.map((r) => ({ status: 'fulfilled', value: r })));
      },
      1,
      10,
    );
    const bad = expect(batcher.submit('bad')).rejects.toBe(boom);
    await turn();
    const good = batcher.submit('good');
    await bad;
    await expect(good).resolves.toBe('good');
    expect(calls).toEqual([['bad'], ['good']]);
  });

  it('does not leave requests hanging when the runner returns too few results', async () => {
    const { runner, batcher } = setUp(1, 10);
    const [b, c] = ['b', 'c'].map((r) => batcher.submit(r));
    await turn();
    const d = batcher.submit('d');
    runner.calls[0].done.resolve([{ status: 'fulfilled', value: 'B' }]);
    await expect(b).resolves.toBe('B');
    await expect(c).rejects.toBeInstanceOf(Error);
    await turn();
    runner.succeed(1);
    await expect(d).resolves.toBe('D');
  });
});
