/**
 * smtp-server waits a fixed 100 ms before its 220 greeting (to catch clients that talk too early).
 * No real MTA we talk to does that per connection, and it makes unpooled sending look ~20x slower, so
 * the demo sink, the test server and the benchmark start the session right away.
 *
 * This touches smtp-server internals (`connections`, `init`, `_setListeners`, `connectionReady`) of
 * the pinned version, on one server instance only; when they are not there it leaves the server as is.
 */
import type { SMTPServer } from 'smtp-server';

interface InternalConnection {
  init?: () => void;
  _setListeners?: (cb: () => void) => void;
  connectionReady?: () => void;
}

export function withoutGreetingPause(server: SMTPServer): SMTPServer {
  const internal = server as unknown as { connections?: Set<InternalConnection> };
  const connections = internal.connections;
  if (!(connections instanceof Set)) return server;
  const add = connections.add.bind(connections);
  connections.add = (connection: InternalConnection) => {
    const setListeners = connection._setListeners;
    const ready = connection.connectionReady;
    if (typeof setListeners === 'function' && typeof ready === 'function') {
      connection.init = () => setListeners.call(connection, () => ready.call(connection));
    }
    return add(connection);
  };
  return server;
}
