/** A TCP port free on 127.0.0.1 (the kernel picks one; used by local warm replicas, dev servers and tests). */
import net from 'node:net';

/**
 * A port nothing listens on at the moment of the call, on 127.0.0.1: a listener on port 0 is opened
 * and closed. Another process may take it before the caller binds it. Rejects with the listen error.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.once('error', reject);
  });
}
