// SCIM 2.0 (RFC 7643/7644) Users, as identity providers actually speak it: the mapping between an
// owner and a SCIM User, the one filter form IdPs use (`userName eq "..."`), and PATCH in both the
// Okta shape ({"op":"replace","value":{"active":false}}) and the Entra shape ({"op":"Replace",
// "path":"active","value":"False"}). Pure: parsing and rendering only, no storage, no HTTP.
import { ownerAddressProblem } from '@skillgate/api';
import { normalizeOwner, offboardingSourceOf, type OffboardingSource, type Owner } from '@skillgate/identity';

export const SCHEMA_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const SCHEMA_LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const SCHEMA_PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SCHEMA_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
/** skillgate's extension of an inactive User: who offboarded them, and so who may reinstate them. */
export const SCHEMA_OFFBOARDING = 'urn:skillgate:params:scim:schemas:extension:2.0:Offboarding';

export class ScimError extends Error {
  constructor(readonly status: number, detail: string, readonly scimType?: string) {
    super(detail);
    this.name = 'ScimError';
  }

  body(): Record<string, unknown> {
    return { schemas: [SCHEMA_ERROR], status: String(this.status), ...(this.scimType ? { scimType: this.scimType } : {}), detail: this.message };
  }
}

export interface ScimUser {
  schemas: string[];
  id: string;
  userName: string;
  externalId?: string;
  displayName?: string;
  active: boolean;
  emails: Array<{ value: string; primary: boolean; type: string }>;
  meta: { resourceType: 'User'; created: string; lastModified: string; location: string };
  [SCHEMA_OFFBOARDING]?: Offboarding;
}

export interface Offboarding {
  offboardedBy: OffboardingSource;
  reason?: string;
  /** Who may lift it: a responder's offboarding is not the identity provider's to lift. */
  reinstatedBy: string;
}

export function toScimUser(owner: Owner, baseUrl: string): ScimUser {
  const source = offboardingSourceOf(owner);
  const offboarding: Offboarding | undefined = source && {
    offboardedBy: source,
    ...(owner.reason ? { reason: owner.reason } : {}),
    reinstatedBy: source === 'scim' ? 'the identity provider (active: true) or a responder (skillgate owners reinstate)' : `a responder only: skillgate owners reinstate ${owner.email}`,
  };
  return {
    schemas: offboarding ? [SCHEMA_USER, SCHEMA_OFFBOARDING] : [SCHEMA_USER],
    id: owner.id,
    userName: owner.email,
    ...(owner.externalId ? { externalId: owner.externalId } : {}),
    ...(owner.displayName ? { displayName: owner.displayName } : {}),
    active: owner.active,
    emails: [{ value: owner.email, primary: true, type: 'work' }],
    meta: { resourceType: 'User', created: owner.created, lastModified: owner.updated, location: `${baseUrl}/Users/${owner.id}` },
    ...(offboarding ? { [SCHEMA_OFFBOARDING]: offboarding } : {}),
  };
}

/** SCIM booleans arrive as true/false or, from Entra, as the strings "True"/"False". */
export function scimBoolean(v: unknown, field: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
  throw new ScimError(400, `${field} must be a boolean`, 'invalidValue');
}

export interface UserFields {
  userName?: string;
  externalId?: string;
  displayName?: string;
  active?: boolean;
}

/**
 * Fields of a POST body: the userName is required and must be an email, as it names the owner. The
 * owner is the canonical form of it (a +tag folded away, no trailing dot): that is what the store,
 * the offboarding lock and the pods' annotations are matched by.
 */
export function userFromBody(body: unknown): UserFields & { userName: string } {
  const fields = userAttributes(body);
  const userName = fields.userName ?? '';
  if (!userName) throw new ScimError(400, 'userName is required (the owner\'s email)', 'invalidValue');
  // Stored, compared and locked by its canonical form (normalizeOwner), which must be a plain address.
  const problem = ownerAddressProblem(normalizeOwner(userName));
  if (problem) throw new ScimError(400, `userName must be the owner's plain email address, got "${userName}": ${problem}`, 'invalidValue');
  return { ...fields, userName };
}

/**
 * Fields of a PUT body, which replaces a user that already exists: its userName is only compared
 * with the stored one (a user is never renamed), so it is not required here, and an unusable one
 * cannot stand in the way of the `active` the same body carries.
 */
export function replacementFields(body: unknown): UserFields {
  return userAttributes(body);
}

function userAttributes(body: unknown): UserFields {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ScimError(400, 'body must be a SCIM User object', 'invalidSyntax');
  const o = body as Record<string, unknown>;
  let userName = typeof o.userName === 'string' ? o.userName.trim() : '';
  if (!userName && Array.isArray(o.emails)) {
    const emails = o.emails as Array<Record<string, unknown> | null>;
    const primary = emails.find((e) => e?.primary === true) ?? emails[0];
    if (typeof primary?.value === 'string') userName = primary.value.trim();
  }
  const name = o.name as Record<string, unknown> | undefined;
  const displayName = typeof o.displayName === 'string' ? o.displayName
    : typeof name?.formatted === 'string' ? name.formatted
    : [name?.givenName, name?.familyName].filter((x): x is string => typeof x === 'string').join(' ') || undefined;
  return {
    ...(userName ? { userName } : {}),
    ...(typeof o.externalId === 'string' ? { externalId: o.externalId } : {}),
    ...(displayName ? { displayName } : {}),
    ...(o.active !== undefined ? { active: scimBoolean(o.active, 'active') } : {}),
  };
}

/** The changes a PatchOp asks for. Unknown paths are ignored, as IdPs send attributes we do not keep. */
export function patchFields(body: unknown): UserFields {
  if (!body || typeof body !== 'object' || !Array.isArray((body as { Operations?: unknown }).Operations)) {
    throw new ScimError(400, 'PATCH body must be a PatchOp with an Operations array', 'invalidSyntax');
  }
  const out: UserFields = {};
  for (const raw of (body as { Operations: unknown[] }).Operations) {
    if (!raw || typeof raw !== 'object') throw new ScimError(400, 'each operation must be an object', 'invalidSyntax');
    const op = String((raw as { op?: unknown }).op ?? '').toLowerCase();
    const path = (raw as { path?: unknown }).path;
    const value = (raw as { value?: unknown }).value;
    if (op !== 'add' && op !== 'replace' && op !== 'remove') throw new ScimError(400, `unsupported op "${op}"`, 'invalidSyntax');
    if (op === 'remove') continue; // removing an optional attribute we do not keep changes nothing here
    if (typeof path === 'string' && path) {
      setAttribute(out, path, value);
    } else if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) setAttribute(out, k, v);
    } else {
      throw new ScimError(400, 'an operation without a path needs an object value', 'invalidSyntax');
    }
  }
  return out;
}

function setAttribute(out: UserFields, path: string, value: unknown): void {
  const attr = path.replace(/^urn:ietf:params:scim:schemas:core:2\.0:User:/i, '').toLowerCase();
  switch (attr) {
    case 'active': out.active = scimBoolean(value, 'active'); break;
    case 'displayname': if (typeof value === 'string') out.displayName = value; break;
    case 'externalid': if (typeof value === 'string') out.externalId = value; break;
    case 'username': if (typeof value === 'string') out.userName = value.trim(); break;
    default: break;
  }
}

export interface ScimFilter {
  attribute: 'userName' | 'externalId' | 'id';
  value: string;
}

/** `userName eq "x"` (also externalId, id). Anything else is an invalidFilter error. */
export function parseFilter(filter: string | null): ScimFilter | undefined {
  if (filter === null || filter.trim() === '') return undefined;
  const m = /^\s*(userName|externalId|id)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(filter);
  if (!m) throw new ScimError(400, `unsupported filter: only userName, externalId or id eq "value" are supported`, 'invalidFilter');
  const attr = m[1]!.toLowerCase();
  const attribute = attr === 'username' ? 'userName' : attr === 'externalid' ? 'externalId' : 'id';
  return { attribute, value: m[2]!.replace(/\\(.)/g, '$1') };
}

export function matchesFilter(owner: Owner, f: ScimFilter): boolean {
  if (f.attribute === 'userName') return owner.email === normalizeOwner(f.value);
  if (f.attribute === 'externalId') return owner.externalId === f.value;
  return owner.id === f.value;
}

/** The most Resources one list page holds, whatever `count` asks for. */
export const MAX_PAGE = 1000;
/** The page size when the client names none. */
export const DEFAULT_PAGE = 100;

/**
 * The page a list query asks for (RFC 7644 §3.4.2.4): `startIndex` is 1-based, less than 1 counts
 * as 1; `count` 0 asks for totalResults alone, a negative count counts as 0. A value that is not a
 * number counts as absent; fractions are rounded down.
 */
export function listPage(params: URLSearchParams): { startIndex: number; count: number } {
  const startIndex = Math.max(1, integerParam(params.get('startIndex')) ?? 1);
  const count = Math.min(MAX_PAGE, Math.max(0, integerParam(params.get('count')) ?? DEFAULT_PAGE));
  return { startIndex, count };
}

function integerParam(raw: string | null): number | undefined {
  if (raw === null || raw.trim() === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? Math.floor(n) : undefined;
}

/** A ListResponse of one page; with count 0, totalResults and an empty Resources list. */
export function listResponse(users: ScimUser[], startIndex: number, count: number): Record<string, unknown> {
  const page = users.slice(startIndex - 1, startIndex - 1 + count);
  return { schemas: [SCHEMA_LIST], totalResults: users.length, startIndex, itemsPerPage: page.length, Resources: page };
}
