// Errors of the OVSDB client. Callers branch on the class:
//   OvsdbConnectionError  the connection is down or dropped while the request was in flight: retry later. A
//                         transact whose reply was lost MAY HAVE COMMITTED; callers must be idempotent (every
//                         PhotonCloud controller is: it re-reads the replica and converges).
//   OvsdbTransactionError the server executed the transaction and refused it; nothing was written (OVSDB
//                         transactions are atomic). `index` is the failing operation, or operations.length when
//                         the server refused at commit (constraint or referential integrity violations).
//   OvsdbRpcError         the server rejected the request itself (unknown database, syntax error, …).
import type { Operation, OperationResult } from './operations.ts';

export class OvsdbError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OvsdbError';
  }
}

export class OvsdbConnectionError extends OvsdbError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OvsdbConnectionError';
  }
}

export class OvsdbRpcError extends OvsdbError {
  readonly method: string;
  /** The JSON-RPC `error` member as the server sent it. */
  readonly error: unknown;
  constructor(method: string, error: unknown) {
    const text = typeof error === 'string' ? error : (error as { error?: string; details?: string })?.error ?? JSON.stringify(error);
    const details = typeof error === 'object' && error ? (error as { details?: string }).details : undefined;
    super(`${method} failed: ${text}${details ? ` (${details})` : ''}`);
    this.name = 'OvsdbRpcError';
    this.method = method;
    this.error = error;
  }
}

export class OvsdbTransactionError extends OvsdbError {
  /** Index of the failing operation; operations.length for an error reported at commit. */
  readonly index: number;
  /** The failing operation (undefined for a commit-time error). */
  readonly operation: Operation | undefined;
  /** RFC 7047 error tag: "timed out", "constraint violation", "referential integrity violation", … */
  readonly error: string;
  readonly details: string | undefined;
  /** Every result the server returned. */
  readonly results: OperationResult[];
  constructor(index: number, operation: Operation | undefined, error: string, details: string | undefined, results: OperationResult[]) {
    const where = operation ? `operation ${index} (${operation.op}${'table' in operation ? ` ${operation.table}` : ''})` : 'commit';
    super(`OVSDB transaction failed at ${where}: ${error}${details ? `: ${details}` : ''}`);
    this.name = 'OvsdbTransactionError';
    this.index = index;
    this.operation = operation;
    this.error = error;
    this.details = details;
    this.results = results;
  }
}
