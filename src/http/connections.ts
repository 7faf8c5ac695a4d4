import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Cap the open connections of server at max. A connection past the cap makes room by destroying the
 * oldest connection without a request in progress (still sending its headers, or idle between
 * keep-alive requests); when every one has a request in progress, the new connection is destroyed.
 * So clients that connect and never finish a request cannot exhaust file descriptors (which would
 * stop the process from accepting anything, or from reaching its database), nor lock out a client
 * that sends its request at once.
 */
export function capConnections(server: Server, max: number): void {
  // Insertion order is age: the first without a request in progress is the one to drop.
  const open = new Set<Socket>();
  const busy = new WeakSet<Socket>();
  server.on('request', (request, response) => {
    const socket = request.socket;
    busy.add(socket);
    response.once('close', () => busy.delete(socket));
  });
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    if (open.size <= max) return;
    let victim: Socket = socket;
    for (const candidate of open) {
      if (candidate !== socket && !busy.has(candidate)) {
        victim = candidate;
        break;
      }
    }
    open.delete(victim);
    victim.destroy();
  });
}
