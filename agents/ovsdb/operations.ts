// OVSDB transaction operations (RFC 7047 §5.2) with plain-JS values, and their encoding to the wire with
// the database schema (see codec.ts). Build them with the `op` helpers:
//
//   await client.transact([
//     op.wait('Logical_Switch', [['name', '==', 'ls-a']], { until: '==', rows: [], timeout: 0 }),
//     op.insert('Logical_Switch', { name: 'ls-a', external_ids: { … } }, 'ls'),
//     op.mutate('Logical_Router', [['_uuid', '==', uuid(router)]], [['ports', 'insert', [namedUuid('lrp')]]]),
//   ]);
import { columnSchema, decodeRow, decodeValue, encodeDatum, encodeRow, encodeValue, NamedUuid, Uuid, type ColumnType, type DatabaseSchema, type Row, type TableSchema } from './codec.ts';

export type ConditionFunction = '<' | '<=' | '==' | '!=' | '>=' | '>' | 'includes' | 'excludes';
/** [column, function, value]: `value` is a plain JS value of the column's type (a set or map for includes/excludes). */
export type Condition = readonly [column: string, fn: ConditionFunction, value: unknown];
export type Mutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';
/**
 * [column, mutator, value]. For `insert`/`delete` on a set column the value is an array (or one element); on a
 * map column `insert` takes a record and `delete` takes either a record (delete matching pairs) or an array of
 * keys (delete those keys). Map `insert` never overwrites an existing key: delete the keys first (in the same
 * mutate) to replace values.
 */
export type Mutation = readonly [column: string, mutator: Mutator, value: unknown];

export interface InsertOperation {
  op: 'insert';
  table: string;
  row: Record<string, unknown>;
  /** Lets later operations (and columns of this transaction) refer to the new row as namedUuid(name). */
  'uuid-name'?: string;
  /** OVS extension: insert with this UUID instead of a generated one. */
  uuid?: string;
}
export interface SelectOperation {
  op: 'select';
  table: string;
  where: readonly Condition[];
  columns?: readonly string[];
}
export interface UpdateOperation {
  op: 'update';
  table: string;
  where: readonly Condition[];
  row: Record<string, unknown>;
}
export interface MutateOperation {
  op: 'mutate';
  table: string;
  where: readonly Condition[];
  mutations: readonly Mutation[];
}
export interface DeleteOperation {
  op: 'delete';
  table: string;
  where: readonly Condition[];
}
export interface WaitOperation {
  op: 'wait';
  table: string;
  where: readonly Condition[];
  columns: readonly string[];
  until: '==' | '!=';
  /** Partial rows (only `columns`) compared with the rows matching `where`. */
  rows: readonly Record<string, unknown>[];
  /** Milliseconds the server may wait for the condition (0: fail at once with "timed out"). */
  timeout?: number;
}
export interface CommitOperation {
  op: 'commit';
  durable: boolean;
}
export interface AbortOperation {
  op: 'abort';
}
export interface CommentOperation {
  op: 'comment';
  comment: string;
}
export interface AssertOperation {
  op: 'assert';
  lock: string;
}

export type Operation =
  | InsertOperation
  | SelectOperation
  | UpdateOperation
  | MutateOperation
  | DeleteOperation
  | WaitOperation
  | CommitOperation
  | AbortOperation
  | CommentOperation
  | AssertOperation;

/** One decoded result per operation (RFC 7047 §5.2): only the fields that kind of operation returns. */
export interface OperationResult<R extends Row = Row> {
  /** insert: the new row's UUID. */
  uuid?: string;
  /** select: the matching rows (with the selected columns and `_uuid` when selected or by default). */
  rows?: R[];
  /** update, mutate, delete: how many rows matched. */
  count?: number;
  error?: string;
  details?: string;
}

const whereOf = (where: readonly Condition[] | undefined) => where ?? [];

/** Typed builders for every operation. */
export const op = {
  insert(table: string, row: Record<string, unknown>, uuidName?: string): InsertOperation {
    return { op: 'insert', table, row, ...(uuidName ? { 'uuid-name': new NamedUuid(uuidName).name } : {}) };
  },
  select(table: string, where: readonly Condition[] = [], columns?: readonly string[]): SelectOperation {
    return { op: 'select', table, where: whereOf(where), ...(columns ? { columns } : {}) };
  },
  update(table: string, where: readonly Condition[], row: Record<string, unknown>): UpdateOperation {
    return { op: 'update', table, where, row };
  },
  mutate(table: string, where: readonly Condition[], mutations: readonly Mutation[]): MutateOperation {
    return { op: 'mutate', table, where, mutations };
  },
  delete(table: string, where: readonly Condition[]): DeleteOperation {
    return { op: 'delete', table, where };
  },
  /**
   * Blocks (up to `timeout` ms; default 0) until the rows matching `where`, projected to `columns` (default:
   * the columns of the first expected row), are (`until: '=='`, the default) or are not (`'!='`) exactly
   * `rows`. When the timeout passes the whole transaction fails with "timed out" and nothing is written.
   */
  wait(
    table: string,
    where: readonly Condition[],
    options: { rows: readonly Record<string, unknown>[]; until?: '==' | '!='; columns?: readonly string[]; timeout?: number },
  ): WaitOperation {
    const columns = options.columns ?? Object.keys(options.rows[0] ?? {});
    return { op: 'wait', table, where, columns, until: options.until ?? '==', rows: options.rows, timeout: options.timeout ?? 0 };
  },
  comment(comment: string): CommentOperation {
    return { op: 'comment', comment };
  },
  assert(lock: string): AssertOperation {
    return { op: 'assert', lock };
  },
  commit(durable = false): CommitOperation {
    return { op: 'commit', durable };
  },
  abort(): AbortOperation {
    return { op: 'abort' };
  },
};

/** Conditions that match one row by UUID, or by name. */
export const byUuid = (value: string): Condition[] => [['_uuid', '==', new Uuid(value)]];
export const byName = (name: string): Condition[] => [['name', '==', name]];

// ---- wire encoding ------------------------------------------------------------------------------------

function tableOf(schema: DatabaseSchema | undefined, table: string): TableSchema | undefined {
  if (!schema) return undefined;
  const found = schema.tables[table];
  if (!found) throw new Error(`database ${schema.name} has no table ${table}`);
  return found;
}

function encodeWithColumn(table: TableSchema | undefined, tableName: string, column: string, value: unknown): unknown {
  if (!table) return encodeValue(value);
  const schema = columnSchema(table, column);
  if (!schema) throw new Error(`table ${tableName} has no column ${column}`);
  return encodeDatum(value, schema.type);
}

function encodeConditions(table: TableSchema | undefined, tableName: string, where: readonly Condition[]): unknown[] {
  // includes/excludes compare against a (sub)set or (sub)map; ==/!= on an optional or set column likewise.
  return where.map(([column, fn, value]) => [column, fn, encodeWithColumn(table, tableName, column, value)]);
}

function encodeMutations(table: TableSchema | undefined, tableName: string, mutations: readonly Mutation[]): unknown[] {
  return mutations.map(([column, mutator, value]) => {
    const schema = table ? columnSchema(table, column) : undefined;
    if (table && !schema) throw new Error(`table ${tableName} has no column ${column}`);
    if (schema && schema.type.value !== undefined && mutator === 'delete' && (Array.isArray(value) || value instanceof Set)) {
      // Deleting keys from a map: the value is a set of keys.
      const keyType: ColumnType = { key: schema.type.key, min: 0, max: 'unlimited' };
      return [column, mutator, encodeDatum(value, keyType)];
    }
    if (schema && (mutator === 'insert' || mutator === 'delete')) {
      // Set insert/delete take a set of elements whatever the column's min/max.
      const type: ColumnType = schema.type.value !== undefined ? schema.type : { key: schema.type.key, min: 0, max: 'unlimited' };
      return [column, mutator, encodeDatum(value, type)];
    }
    if (schema) {
      // Arithmetic on a scalar, or on every element of a set: the operand is one atom.
      return [column, mutator, encodeDatum(value, { key: schema.type.key, min: 1, max: 1 })];
    }
    return [column, mutator, encodeValue(value)];
  });
}

/** Encodes operations for the wire; throws on tables/columns that the schema does not have. */
export function encodeOperations(schema: DatabaseSchema | undefined, operations: readonly Operation[]): unknown[] {
  return operations.map((operation) => {
    switch (operation.op) {
      case 'insert': {
        const table = tableOf(schema, operation.table);
        return { ...operation, row: encodeRow(table, operation.table, operation.row) };
      }
      case 'select': {
        const table = tableOf(schema, operation.table);
        return { ...operation, where: encodeConditions(table, operation.table, operation.where) };
      }
      case 'update': {
        const table = tableOf(schema, operation.table);
        return { ...operation, where: encodeConditions(table, operation.table, operation.where), row: encodeRow(table, operation.table, operation.row) };
      }
      case 'mutate': {
        const table = tableOf(schema, operation.table);
        return { ...operation, where: encodeConditions(table, operation.table, operation.where), mutations: encodeMutations(table, operation.table, operation.mutations) };
      }
      case 'delete': {
        const table = tableOf(schema, operation.table);
        return { ...operation, where: encodeConditions(table, operation.table, operation.where) };
      }
      case 'wait': {
        const table = tableOf(schema, operation.table);
        return {
          ...operation,
          where: encodeConditions(table, operation.table, operation.where),
          rows: operation.rows.map((row) => encodeRow(table, operation.table, row)),
        };
      }
      default:
        return operation;
    }
  });
}

/** Decodes a transact reply's results (select rows through the schema; uuids to strings). */
export function decodeResults(schema: DatabaseSchema | undefined, operations: readonly Operation[], results: unknown[]): OperationResult[] {
  return results.map((result, index) => {
    if (result === null || typeof result !== 'object') return {};
    const json = result as Record<string, unknown>;
    const decoded: OperationResult = {};
    if (json.uuid !== undefined) decoded.uuid = decodeValue(json.uuid) as string;
    if (typeof json.count === 'number') decoded.count = json.count;
    if (typeof json.error === 'string') decoded.error = json.error;
    if (typeof json.details === 'string') decoded.details = json.details;
    if (Array.isArray(json.rows)) {
      const operation = operations[index];
      const table = operation && 'table' in operation && schema ? schema.tables[operation.table] : undefined;
      decoded.rows = (json.rows as Record<string, unknown>[]).map((row) => {
        const id = row._uuid !== undefined ? (decodeValue(row._uuid) as string) : '';
        return decodeRow(table, id, row);
      });
    }
    return decoded;
  });
}
