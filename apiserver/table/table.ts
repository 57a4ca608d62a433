// Server-side printing (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`): the columns kubectl shows,
// rendered from a CRD's additionalPrinterColumns as Kubernetes' CRD table convertor does, with one
// deliberate difference: Kubernetes prints a list in a string column as JSON (`["10.0.0.0/16"]`) and, for a
// path matching several values (`.spec.cidrBlocks[*]`), only the first. Here a list of scalars, or several
// scalar matches, print comma-separated (`10.0.0.0/16,10.1.0.0/16`), the way kubectl prints the lists of
// built-in kinds (a Pod's IPs, a Service's external IPs); lists of objects and objects stay JSON.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { PrinterColumn, ResourceInfo } from '../registry/resource.ts';
import { compileJsonPath } from './jsonpath.ts';

export interface TableColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface TableRow {
  cells: unknown[];
  object?: unknown;
}

export interface Table {
  kind: 'Table';
  apiVersion: string;
  metadata: { resourceVersion?: string; continue?: string };
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

const NAME_COLUMN: TableColumnDefinition = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated.',
  priority: 0,
};

const DEFAULT_COLUMNS: PrinterColumn[] = [
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' },
];

interface CompiledColumn {
  definition: TableColumnDefinition;
  type: PrinterColumn['type'];
  evaluate: (object: unknown) => unknown[];
}

const compiledByResource = new WeakMap<ResourceInfo, CompiledColumn[]>();

function columnsOf(resource: ResourceInfo): CompiledColumn[] {
  let compiled = compiledByResource.get(resource);
  if (!compiled) {
    const columns = resource.tableColumns ?? (resource.printerColumns.length > 0 ? resource.printerColumns : DEFAULT_COLUMNS);
    compiled = columns.map((column) => {
      let evaluate: CompiledColumn['evaluate'];
      try {
        const value = column.value;
        evaluate = value ? (object) => [value(object as KubeObject)] : compileJsonPath(column.jsonPath);
      } catch {
        evaluate = () => [];
      }
      return {
        definition: { name: column.name, type: column.type, format: column.format ?? '', description: column.description ?? '', priority: column.priority ?? 0 },
        type: column.type,
        evaluate,
      };
    });
    compiledByResource.set(resource, compiled);
  }
  return compiled;
}

/** Kubernetes' duration.HumanDuration: `45s`, `3m12s`, `5h`, `2d3h`, `1y4d`. */
export function humanDuration(milliseconds: number): string {
  // Go's int(d.Seconds()) truncates toward zero: -1.5s is still "0s" (clock skew under 2s is tolerated).
  const seconds = Math.trunc(milliseconds / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.floor(hours / 24) % 365;
    return days === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${days}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

const isScalar = (value: unknown) => typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';

/** A string column's cell from every value its path matched (see the top of the file); null when nothing matched. */
function stringCell(matches: unknown[]): string | null {
  const present = matches.filter((value) => value !== undefined && value !== null);
  if (present.length === 0) return null;
  const list = present.length === 1 ? (Array.isArray(present[0]) ? present[0] : undefined) : present;
  if (list && list.every(isScalar)) return list.length === 0 ? null : list.map(String).join(',');
  const first = present[0];
  return typeof first === 'string' ? first : JSON.stringify(first);
}

function cell(type: PrinterColumn['type'], matches: unknown[], now: number): unknown {
  if (type === 'string') return stringCell(matches);
  const value = matches[0];
  if (value === undefined || value === null) return null;
  switch (type) {
    case 'date': {
      const time = typeof value === 'string' ? Date.parse(value) : Number.NaN;
      return Number.isNaN(time) ? '<invalid>' : humanDuration(now - time);
    }
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) ? value : null;
    case 'number':
      return typeof value === 'number' ? value : null;
    case 'boolean':
      return typeof value === 'boolean' ? value : null;
  }
}

function rowObject(object: KubeObject, include: IncludeObject, tableApiVersion: string): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return object;
  return { kind: 'PartialObjectMetadata', apiVersion: tableApiVersion, metadata: object.metadata };
}

export function renderRow(resource: ResourceInfo, object: KubeObject, include: IncludeObject, tableApiVersion: string, now = Date.now()): TableRow {
  // Kinds with their own full column set (Events) do not lead with Name.
  const cells: unknown[] = resource.tableColumns ? [] : [object.metadata.name ?? ''];
  for (const column of columnsOf(resource)) cells.push(cell(column.type, column.evaluate(object), now));
  const row: TableRow = { cells };
  const embedded = rowObject(object, include, tableApiVersion);
  if (embedded !== undefined) row.object = embedded;
  return row;
}

export function renderTable(
  resource: ResourceInfo,
  objects: KubeObject[],
  listMeta: { resourceVersion?: string; continue?: string },
  include: IncludeObject,
  tableApiVersion = 'meta.k8s.io/v1',
): Table {
  const now = Date.now();
  return {
    kind: 'Table',
    apiVersion: tableApiVersion,
    metadata: listMeta,
    columnDefinitions: [...(resource.tableColumns ? [] : [NAME_COLUMN]), ...columnsOf(resource).map((column) => column.definition)],
    rows: objects.map((object) => renderRow(resource, object, include, tableApiVersion, now)),
  };
}
