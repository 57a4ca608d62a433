// OpenAPI v2 (`GET /openapi/v2`), built from the same resources as OpenAPI v3, as JSON or as the gnostic
// protobuf kubectl asks for (`Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`).
//
// Why a v2 document at all, when kubectl ≥1.27 reads v3: kubectl still falls back to v2, and a 404 there
// replaces the answer the user needed (measured with kubectl 1.29–1.33, `-v=8`):
// - `kubectl apply` of a kind its group does not have (`kind: Vcp`): the v3 field-validation check finds no
//   PATCH path for the kind ("Path not found for GVK … in OpenAPI V3 doc") and asks v2; then, the kind
//   being unsupported there too, kubectl validates client-side against the v2 models. Without v2 the user
//   reads `failed to download openapi … --validate=false` instead of `no matches for kind "Vcp"`.
// - `kubectl apply` of an unknown group (`netwrk.photoncloud.io`): v3 answers "unsupported" correctly, but
//   client-side validation then loads the v2 models: `error validating data: the server could not find the
//   requested resource`.
// - client-side `kubectl apply` of an existing object asks v2 which patch types PATCH consumes (a 404 is
//   tolerated there); `kubectl explain --output=plaintext-openapiv2` reads it; kubectl 1.27/1.28 need it.
//
// The schemas are converted the way kube-apiserver publishes CRD schemas in v2 (apiextensions'
// ToStructuralOpenAPIV2), because kubectl's v2 model parser (kube-openapi pkg/util/proto) rejects what v2
// cannot say: a `$ref` must stand alone (not under allOf, no type or properties beside it), nullable and
// preserve-unknown-fields values lose their type, int-or-string loses its type, and allOf/anyOf/oneOf/not
// are dropped. PATCH operations list only the patch types this server accepts (never strategic merge).
type Json = Record<string, unknown>;

/**
 * The protobuf media type, as the reply's Content-Type. kubectl asks with `…spec.v2@v1.0+protobuf`, but Go's
 * mime parser refuses an `@` in a Content-Type (kubectl then fails with "mime: unexpected content after
 * media subtype"), so kube-apiserver answers both spellings with this one, and so does this server.
 */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';
/** The spelling kubectl and client-go send in Accept. */
export const OPENAPI_V2_PROTOBUF_ACCEPT = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

const V3_REF_PREFIX = '#/components/schemas/';
const V2_REF_PREFIX = '#/definitions/';

/** Keywords copied unchanged from a v3 schema into v2 (everything else but the ones handled below is dropped). */
const COPIED_KEYWORDS = [
  'description', 'title', 'format', 'default', 'enum', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf',
  'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'uniqueItems', 'minProperties', 'maxProperties', 'required',
];

function v2Ref(ref: string): string {
  return ref.startsWith(V3_REF_PREFIX) ? V2_REF_PREFIX + ref.slice(V3_REF_PREFIX.length) : ref;
}

/** One v3 (structural) schema as v2 says it, as kube-apiserver does for CRDs. */
export function toV2Schema(input: unknown): Json {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return {};
  const schema = input as Json;
  const description = typeof schema.description === 'string' ? { description: schema.description } : {};
  if (typeof schema.$ref === 'string') return { $ref: v2Ref(schema.$ref), ...description };
  // `{allOf: [{$ref}], description}` is how v3 gives a reference a description; v2 allows a bare $ref only.
  const allOf = schema.allOf;
  if (Array.isArray(allOf) && allOf.length === 1 && typeof (allOf[0] as Json)?.$ref === 'string' && schema.properties === undefined && schema.type === undefined) {
    return { $ref: v2Ref((allOf[0] as Json).$ref as string), ...description };
  }
  const out: Json = {};
  for (const keyword of COPIED_KEYWORDS) if (schema[keyword] !== undefined) out[keyword] = schema[keyword];
  for (const [key, value] of Object.entries(schema)) if (key.startsWith('x-')) out[key] = value;
  // Untyped in v2: kubectl's parser would otherwise refuse a null, an unknown field or an int for a string.
  const untyped = schema.nullable === true || schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (!untyped && schema['x-kubernetes-int-or-string'] !== true && schema.type !== undefined) out.type = schema.type;
  if (!untyped) {
    if (schema.properties && typeof schema.properties === 'object') {
      out.properties = Object.fromEntries(Object.entries(schema.properties as Json).map(([name, property]) => [name, toV2Schema(property)]));
    }
    if (schema.items && typeof schema.items === 'object' && !Array.isArray(schema.items)) out.items = toV2Schema(schema.items);
    else if (out.type === 'array') delete out.type; // v2 arrays need exactly one item schema
  }
  if (typeof schema.additionalProperties === 'boolean') out.additionalProperties = schema.additionalProperties;
  else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') out.additionalProperties = toV2Schema(schema.additionalProperties);
  if (out.required !== undefined && (!Array.isArray(out.required) || out.required.length === 0 || out.properties === undefined)) delete out.required;
  return out;
}

interface V3Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: { type?: string; uniqueItems?: boolean };
}

function v2Parameter(parameter: V3Parameter): Json {
  return {
    name: parameter.name,
    in: parameter.in,
    ...(parameter.description ? { description: parameter.description } : {}),
    ...(parameter.required ? { required: true } : {}),
    type: parameter.schema?.type ?? 'string',
    ...(parameter.schema?.uniqueItems ? { uniqueItems: true } : {}),
  };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** A v3 operation (from openapi.ts's pathsFor) as a v2 one: body parameter, consumes/produces, response schemas. */
function v2Operation(method: string, operation: Json): Json {
  const parameters = ((operation.parameters as V3Parameter[] | undefined) ?? []).map(v2Parameter);
  const requestBody = operation.requestBody as { required?: boolean; content?: Record<string, { schema?: unknown }> } | undefined;
  const out: Json = {};
  if (requestBody?.content) {
    const mediaTypes = Object.keys(requestBody.content);
    const schema = Object.values(requestBody.content)[0]?.schema;
    parameters.unshift({ name: 'body', in: 'body', ...(requestBody.required ? { required: true } : {}), schema: toV2Schema(schema) });
    out.consumes = method === 'patch' ? mediaTypes : ['*/*'];
  } else {
    out.consumes = ['*/*'];
  }
  out.produces = ['application/json', 'application/yaml'];
  out.schemes = ['https'];
  out.operationId = operation.operationId;
  if (parameters.length > 0) out.parameters = parameters;
  const responses: Json = {};
  for (const [code, response] of Object.entries((operation.responses as Record<string, { description: string; content?: Record<string, { schema?: unknown }> }>) ?? {})) {
    const schema = response.content ? Object.values(response.content)[0]?.schema : undefined;
    responses[code] = { description: response.description, ...(schema ? { schema: toV2Schema(schema) } : {}) };
  }
  out.responses = responses;
  for (const [key, value] of Object.entries(operation)) if (key.startsWith('x-')) out[key] = value;
  return out;
}

/** The v2 document for the v3 documents' paths and schemas (all group versions in one, as v2 has it). */
export function openApiV2Document(v3Paths: Record<string, Json>, v3Schemas: Record<string, unknown>, version: string): Json {
  const paths: Json = {};
  for (const path of Object.keys(v3Paths).sort()) {
    const item = v3Paths[path];
    const out: Json = {};
    for (const method of METHODS) if (item[method]) out[method] = v2Operation(method, item[method] as Json);
    const parameters = (item.parameters as V3Parameter[] | undefined) ?? [];
    if (parameters.length > 0) out.parameters = parameters.map(v2Parameter);
    paths[path] = out;
  }
  const definitions: Json = {};
  for (const name of Object.keys(v3Schemas).sort()) definitions[name] = toV2Schema(v3Schemas[name]);
  return { swagger: '2.0', info: { title: 'PhotonCloud', version }, paths, definitions };
}

// ---- gnostic protobuf (github.com/google/gnostic-models openapiv2/OpenAPIv2.proto field numbers) ----

/** A protobuf message being written: fields appended in any order, encoded once. */
class Message {
  private readonly parts: Buffer[] = [];

  private tag(field: number, wireType: number): void {
    this.parts.push(varint((field << 3) | wireType));
  }

  string(field: number, value: unknown): this {
    if (typeof value === 'string' && value !== '') {
      const bytes = Buffer.from(value, 'utf8');
      this.tag(field, 2);
      this.parts.push(varint(bytes.length), bytes);
    }
    return this;
  }

  strings(field: number, values: unknown): this {
    if (Array.isArray(values)) for (const value of values) if (typeof value === 'string') this.stringAlways(field, value);
    return this;
  }

  private stringAlways(field: number, value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    this.tag(field, 2);
    this.parts.push(varint(bytes.length), bytes);
  }

  bool(field: number, value: unknown): this {
    if (value === true) {
      this.tag(field, 0);
      this.parts.push(varint(1));
    }
    return this;
  }

  int64(field: number, value: unknown): this {
    if (typeof value === 'number' && Number.isInteger(value) && value !== 0) {
      this.tag(field, 0);
      this.parts.push(varint(value));
    }
    return this;
  }

  double(field: number, value: unknown): this {
    if (typeof value === 'number' && value !== 0) {
      const bytes = Buffer.alloc(8);
      bytes.writeDoubleLE(value);
      this.tag(field, 1);
      this.parts.push(bytes);
    }
    return this;
  }

  /** A sub-message, written even when empty (presence matters: an empty `properties` is an object with no fields). */
  message(field: number, message: Message | undefined): this {
    if (message) {
      const bytes = message.bytes();
      this.tag(field, 2);
      this.parts.push(varint(bytes.length), bytes);
    }
    return this;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function varint(value: number): Buffer {
  // Negative int64 values take ten bytes (two's complement), as protobuf requires.
  let rest = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if (rest !== 0n) byte |= 0x80;
    out.push(byte);
  } while (rest !== 0n);
  return Buffer.from(out);
}

/** Any {2: yaml}: vendor extensions, defaults and enum values travel as YAML text; JSON is YAML. */
const anyValue = (value: unknown) => new Message().string(2, JSON.stringify(value));
const namedAny = (name: string, value: unknown) => new Message().string(1, name).message(2, anyValue(value));

function vendorExtensions(message: Message, field: number, object: Json): void {
  for (const [key, value] of Object.entries(object)) if (key.startsWith('x-')) message.message(field, namedAny(key, value));
}

function schemaMessage(schema: Json): Message {
  const message = new Message()
    .string(1, schema.$ref)
    .string(2, schema.format)
    .string(3, schema.title)
    .string(4, schema.description);
  if (schema.default !== undefined) message.message(5, anyValue(schema.default));
  message
    .double(6, schema.multipleOf)
    .double(7, schema.maximum)
    .bool(8, schema.exclusiveMaximum)
    .double(9, schema.minimum)
    .bool(10, schema.exclusiveMinimum)
    .int64(11, schema.maxLength)
    .int64(12, schema.minLength)
    .string(13, schema.pattern)
    .int64(14, schema.maxItems)
    .int64(15, schema.minItems)
    .bool(16, schema.uniqueItems)
    .int64(17, schema.maxProperties)
    .int64(18, schema.minProperties)
    .strings(19, schema.required);
  if (Array.isArray(schema.enum)) for (const value of schema.enum) message.message(20, anyValue(value));
  if (typeof schema.additionalProperties === 'boolean') message.message(21, new Message().bool(2, schema.additionalProperties));
  else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') message.message(21, new Message().message(1, schemaMessage(schema.additionalProperties as Json)));
  if (typeof schema.type === 'string') message.message(22, new Message().strings(1, [schema.type]));
  if (schema.items && typeof schema.items === 'object') message.message(23, new Message().message(1, schemaMessage(schema.items as Json)));
  if (schema.properties && typeof schema.properties === 'object') {
    const properties = new Message();
    for (const [name, property] of Object.entries(schema.properties as Json)) properties.message(1, new Message().string(1, name).message(2, schemaMessage(property as Json)));
    message.message(25, properties);
  }
  vendorExtensions(message, 31, schema);
  return message;
}

function parameterMessage(parameter: Json): Message {
  if (parameter.in === 'body') {
    const body = new Message().string(1, parameter.description).string(2, parameter.name).string(3, parameter.in).bool(4, parameter.required).message(5, schemaMessage(parameter.schema as Json));
    return new Message().message(1, new Message().message(1, body));
  }
  let nonBody: Message;
  if (parameter.in === 'path') {
    // PathParameterSubSchema: required 1, in 2, description 3, name 4, type 5, unique_items 19.
    nonBody = new Message().message(4, new Message().bool(1, parameter.required).string(2, parameter.in).string(3, parameter.description).string(4, parameter.name).string(5, parameter.type).bool(19, parameter.uniqueItems));
  } else {
    // QueryParameterSubSchema: required 1, in 2, description 3, name 4, type 6, unique_items 20.
    nonBody = new Message().message(3, new Message().bool(1, parameter.required).string(2, parameter.in).string(3, parameter.description).string(4, parameter.name).string(6, parameter.type).bool(20, parameter.uniqueItems));
  }
  return new Message().message(1, new Message().message(2, nonBody));
}

function operationMessage(operation: Json): Message {
  const message = new Message()
    .strings(1, operation.tags)
    .string(3, operation.description)
    .string(5, operation.operationId)
    .strings(6, operation.produces)
    .strings(7, operation.consumes);
  for (const parameter of (operation.parameters as Json[] | undefined) ?? []) message.message(8, parameterMessage(parameter));
  const responses = new Message();
  for (const [code, response] of Object.entries((operation.responses as Record<string, Json>) ?? {})) {
    const body = new Message().string(1, response.description);
    if (response.schema) body.message(2, new Message().message(1, schemaMessage(response.schema as Json)));
    responses.message(1, new Message().string(1, code).message(2, new Message().message(1, body)));
  }
  message.message(9, responses).strings(10, operation.schemes);
  vendorExtensions(message, 13, operation);
  return message;
}

const PATH_ITEM_FIELDS: Record<string, number> = { get: 2, put: 3, post: 4, delete: 5, patch: 8 };

/** The v2 document (as built by openApiV2Document) in gnostic's protobuf encoding, as kube-apiserver serves it. */
export function encodeOpenApiV2(document: Json): Buffer {
  const info = document.info as Json;
  const paths = new Message();
  for (const [path, item] of Object.entries(document.paths as Record<string, Json>)) {
    const pathItem = new Message();
    for (const [method, field] of Object.entries(PATH_ITEM_FIELDS)) if (item[method]) pathItem.message(field, operationMessage(item[method] as Json));
    for (const parameter of (item.parameters as Json[] | undefined) ?? []) pathItem.message(9, parameterMessage(parameter));
    paths.message(2, new Message().string(1, path).message(2, pathItem));
  }
  const definitions = new Message();
  for (const [name, schema] of Object.entries(document.definitions as Record<string, Json>)) definitions.message(1, new Message().string(1, name).message(2, schemaMessage(schema)));
  return new Message()
    .string(1, document.swagger)
    .message(2, new Message().string(1, info.title).string(2, info.version))
    .message(8, paths)
    .message(9, definitions)
    .bytes();
}
