// HAProxy's runtime API (the per-worker stats socket): one command, bounded in size and time, and the pool
// members' health from `show stat`.
import net from 'node:net';
import { ProxyDriverError, type ProxyServerHealth } from './driver.ts';

/** Pool members from `show stat` CSV: UP, UP 1/2 (going down) and "no check" count as up; DOWN, DOWN 1/2, MAINT as down. */
export function parseServerStats(csv: string): ProxyServerHealth[] {
  const [header = '', ...rows] = csv.split('\n').filter((line) => line.trim() !== '');
  const columns = header.replace(/^# /, '').split(',');
  const at = (row: string[], column: string) => row[columns.indexOf(column)] ?? '';
  return rows
    .map((line) => line.split(','))
    .filter((row) => !['FRONTEND', 'BACKEND'].includes(at(row, 'svname')) && at(row, 'pxname') !== 'photon_not_found')
    .map((row) => {
      const [address, port] = at(row, 'addr').split(':');
      const status = at(row, 'status');
      return { pool: at(row, 'pxname'), server: at(row, 'svname'), address, port: Number(port), up: status.startsWith('UP') || status === 'no check' };
    });
}

export /** One command on HAProxy's stats socket; resolves with the answer (bounded in size and time). */
function statsCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const connection = net.createConnection(socket);
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => connection.destroy(new ProxyDriverError(`no answer on ${socket}`)), 5000);
    connection.on('connect', () => connection.end(command));
    connection.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 8 * 1024 * 1024) connection.destroy(new ProxyDriverError('stats answer too large'));
      else chunks.push(chunk);
    });
    connection.on('error', (error) => {
      clearTimeout(timer);
      reject(new ProxyDriverError(`HAProxy's stats socket: ${error.message}`));
    });
    connection.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}
