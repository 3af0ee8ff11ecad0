import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * The public port of the test server: a TCP relay in front of the gRPC server, so that the
 * server can "go down" the way a crashed or partitioned node does, with every connection reset
 * mid-call (clients see UNAVAILABLE) and new connections refused, while its data stays.
 */
export class TcpGate {
  private listener: Server | undefined;

  /** Whether the gate accepts connections. */
  get isOpen(): boolean {
    return this.listener !== undefined;
  }
  private readonly sockets = new Set<Socket>();

  constructor(private readonly upstreamPort: number) {}

  /** Starts accepting on `port` (0: any free port); resolves with the port bound. */
  async open(port: number): Promise<number> {
    if (this.listener) throw new Error('the gate is open already');
    const listener = createServer((client) => this.relay(client));
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, '127.0.0.1', () => {
        listener.off('error', reject);
        resolve();
      });
    });
    this.listener = listener;
    const address = listener.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    return address.port;
  }

  /** Stops accepting and resets every relayed connection, both towards clients and upstream. */
  async shut(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    for (const socket of this.sockets) if (!socket.destroyed) socket.resetAndDestroy();
    this.sockets.clear();
    if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()));
  }

  private relay(client: Socket): void {
    const upstream = connect(this.upstreamPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        // One side gone: the connection is gone.
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
