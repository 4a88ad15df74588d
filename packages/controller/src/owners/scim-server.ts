// The SCIM 2.0 /Users endpoint of the controller: authenticates the IdP with a bearer secret, maps
// requests onto the owner store, and turns `active=false` and DELETE into offboarding (owner record
// plus SkillLock) and `active=true` into reinstatement — of an offboarding the IdP made, never of a
// responder's (`skillgate owners offboard`): Okta's profile push sends the whole user with
// `active: true`, and must not re-enable a skill taken down in an incident. Such a refusal is
// answered with the user still inactive and a skillgate extension saying why, logged, and recorded
// as a Kubernetes Event on the owner record. A resource id names one owner for good (the id is a
// hash of the email the skills' owner annotation names): a rename is never stored, and never stands
// in the way of a deactivation sent with it. Thin: the SCIM dialect is scim.ts, the writes are
// lifecycle.ts. Never logs the bearer secret or request bodies.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SCIM_ACTOR, isVouched, normalizeOwner, type Owner } from '@skillgate/identity';
import { emit, type ControllerEvents } from '../events.js';
import type { Logger } from '../log.js';
import type { ControllerMetrics } from '../metrics.js';
import { readBody, sendJson } from '../http.js';
import type { OwnerLifecycle } from './lifecycle.js';
import type { OwnerStore } from './store.js';
import { ScimError, listPage, listResponse, matchesFilter, parseFilter, patchFields, replacementFields, toScimUser, userFromBody, type UserFields } from './scim.js';

export const SCIM_BASE = '/scim/v2';

export interface ScimServerDeps {
  store: OwnerStore;
  lifecycle: OwnerLifecycle;
  /** The bearer secret the IdP presents; undefined disables SCIM (every request is 401). */
  bearerSecret: () => string | undefined;
  log: Logger;
  metrics: ControllerMetrics;
  /** External base URL for meta.location, e.g. https://skillgate-controller.skillgate.svc/scim/v2 */
  baseUrl?: string;
  /** Told of every reinstatement the IdP asked for and may not make. */
  events?: ControllerEvents;
  /** The clock (ms), for how often a refusal becomes an Event. */
  now?: () => number;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export function scimHandler(deps: ScimServerDeps) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const method = req.method ?? 'GET';
    let status = 500;
    try {
      const secret = deps.bearerSecret();
      const auth = req.headers.authorization ?? '';
      const presented = auth.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : '';
      if (!secret || !presented || !timingSafeEqual(digest(secret), digest(presented))) {
        throw new ScimError(401, 'missing or wrong bearer secret for the SCIM client');
      }
      const base = deps.baseUrl ?? `${SCIM_BASE}`;
      const rest = url.pathname.slice(SCIM_BASE.length);
      const m = /^\/Users(?:\/([^/]+))?\/?$/.exec(rest);
      if (!m) throw new ScimError(404, `no SCIM resource at ${url.pathname}; only /Users is served`);
      const id = m[1] ? resourceId(m[1]) : undefined;
      const result = await route(deps, method, id, url, req, base);
      status = result.status;
      if (result.body === undefined) {
        res.writeHead(status);
        res.end();
      } else {
        sendJson(res, status, result.body, 'application/scim+json');
      }
    } catch (err) {
      const e = err instanceof ScimError ? err : new ScimError(500, 'internal error while handling the SCIM request; see the controller log');
      if (!(err instanceof ScimError)) deps.log.error({ err: (err as Error).message }, 'SCIM request failed');
      status = e.status;
      sendJson(res, e.status, e.body(), 'application/scim+json');
    } finally {
      deps.metrics.scimRequests.labels(method, String(status)).inc();
    }
  };
}

async function route(deps: ScimServerDeps, method: string, id: string | undefined, url: URL, req: IncomingMessage, base: string): Promise<{ status: number; body?: unknown }> {
  const visible = (o: Owner | undefined): Owner | undefined => (o && !o.deleted ? o : undefined);
  if (!id) {
    if (method === 'GET') {
      const filter = parseFilter(url.searchParams.get('filter'));
      const { startIndex, count } = listPage(url.searchParams);
      const owners = (await deps.store.list()).filter((o) => !o.deleted && (!filter || matchesFilter(o, filter)));
      return { status: 200, body: listResponse(owners.map((o) => toScimUser(o, base)), startIndex, count) };
    }
    if (method === 'POST') {
      const fields = userFromBody(await readJson(req));
      const stored = await deps.store.get(fields.userName);
      // An owner the controller registered from a pod annotation is not the IdP's yet: adopt it.
      const existing = visible(stored);
      if (existing && isVouched(existing)) throw new ScimError(409, `a user with userName ${fields.userName} already exists (id ${existing.id})`, 'uniqueness');
      const owner = await apply(deps, fields.userName, fields, stored, true);
      return { status: 201, body: toScimUser(owner, base) };
    }
    throw new ScimError(405, `${method} is not allowed on /Users`);
  }
  const owner = visible(await deps.store.getById(id));
  if (!owner) throw new ScimError(404, `user ${id} not found`);
  switch (method) {
    case 'GET':
      return { status: 200, body: toScimUser(owner, base) };
    case 'PUT':
    case 'PATCH': {
      const fields = method === 'PUT' ? replacementFields(await readJson(req)) : patchFields(await readJson(req));
      // Always onto the stored owner, the one the id names: a userName in the body is never a reason
      // to refuse (see ignoreRename), so `active` in the same body is always applied.
      const stored = await apply(deps, owner.email, fields, owner, false);
      ignoreRename(deps, owner, fields);
      return { status: 200, body: toScimUser(stored, base) };
    }
    case 'DELETE':
      await deps.lifecycle.offboard(owner.email, 'deleted by the identity provider (SCIM DELETE)', SCIM_ACTOR, { deleted: true, source: 'scim' });
      deps.log.warn({ ownerId: owner.id }, 'owner deleted via SCIM: offboarded');
      return { status: 204 };
    default:
      throw new ScimError(405, `${method} is not allowed on /Users/{id}`);
  }
}

/**
 * A rename the identity provider asks for is not made, and is answered 200 with the user as stored.
 * An owner is the email their skills' `skillgate.dev/owner` annotation names, and the resource id
 * is derived from it: storing a new userName under the id would make the id mean another owner
 * (lifting or moving the old one's offboarding lock). Not refused either, with or without `active`
 * in the same request: Entra puts every attribute a sync cycle changed into one PATCH (an offboarding
 * typically renames UPN/mail and disables at once), retries a refused PATCH whole on every cycle, and
 * quarantines a provisioning job whose requests keep failing — which stops every other user's
 * deprovisioning too. So the rest of the request is applied, the rename is logged with both names,
 * and an owner who really changed address gets a new user (POST) and their skills a new annotation.
 */
function ignoreRename(deps: ScimServerDeps, owner: Owner, fields: UserFields): void {
  if (!fields.userName || normalizeOwner(fields.userName) === owner.email) return;
  deps.log.warn({ ownerId: owner.id, userName: owner.email, requestedUserName: fields.userName, active: fields.active },
    'SCIM asked to rename an owner: ignored, the user keeps its userName (the rest of the request was applied); to move skills to a new address, provision a user for it and set skillgate.dev/owner in the pod templates of their skills');
}

/** The id in /Users/{id}, percent-decoded; one that does not decode names no user. */
function resourceId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ScimError(404, `user ${raw} not found: the id is not valid percent-encoding`);
  }
}

/**
 * Store attributes, offboarding or reinstating in the same record write when `active` says so: one
 * read-modify-write of the owner record, never two, so deprovisioning costs one API round trip (in
 * parallel with the SkillLock write, after the lock was already announced to the sidecars).
 */
async function apply(deps: ScimServerDeps, email: string, fields: UserFields, current: Owner | undefined, creating: boolean): Promise<Owner> {
  const attrs = { ...(fields.displayName ? { displayName: fields.displayName } : {}), ...(fields.externalId ? { externalId: fields.externalId } : {}) };
  const active = fields.active ?? (creating ? true : undefined);
  if (active === false) {
    // Idempotent: re-applies the lock even when the record already says inactive.
    const change = await deps.lifecycle.offboard(email, 'deactivated by the identity provider (SCIM active=false)', SCIM_ACTOR, { fields: attrs, source: 'scim' });
    if (change.transition === 'offboarded') deps.log.warn({ ownerId: change.owner.id }, 'owner deactivated via SCIM: offboarded');
    return change.owner;
  }
  if (active === true && current && !current.active) {
    const change = await deps.lifecycle.reinstate(email, SCIM_ACTOR, attrs, 'scim');
    if (change.refused) {
      deps.log.warn({ ownerId: change.owner.id, offboardedBy: 'responder' }, 'SCIM asked to activate an owner a responder offboarded: refused, the owner stays offboarded (skillgate owners reinstate lifts it)');
      emit(deps.events ?? {}, 'reinstatementRefused', { email: change.owner.email, by: SCIM_ACTOR, why: change.refused });
      // Best effort: the refusal stands whether or not the Event is written. An identity provider
      // pushes the whole user on every profile edit: one Event per owner per REFUSAL_EVENT_MS.
      if (refusalEventDue(deps, change.owner.id)) {
        await Promise.resolve().then(() => deps.store.event(change.owner, 'Warning', 'ReinstatementRefused', `SCIM asked to activate this owner: refused. ${change.refused}`))
          .catch((err: Error) => deps.log.warn({ err: err.message, ownerId: change.owner.id }, 'cannot record the refused reinstatement as an Event'));
      }
      return change.owner;
    }
    deps.log.info({ ownerId: change.owner.id }, 'owner activated via SCIM: reinstated');
    return change.owner;
  }
  return deps.lifecycle.upsert(email, attrs, SCIM_ACTOR);
}

/** How often a refused reinstatement of one owner becomes a Kubernetes Event (each is logged). */
export const REFUSAL_EVENT_MS = 10 * 60_000;
const refusalEventsAt = new WeakMap<ScimServerDeps, Map<string, number>>();

/** Whether this refusal should be written as an Event: the owner's first, or REFUSAL_EVENT_MS after its last. */
function refusalEventDue(deps: ScimServerDeps, ownerId: string): boolean {
  let at = refusalEventsAt.get(deps);
  if (!at) refusalEventsAt.set(deps, (at = new Map()));
  const now = (deps.now ?? Date.now)();
  const last = at.get(ownerId);
  if (last !== undefined && now - last < REFUSAL_EVENT_MS) return false;
  if (at.size >= 10_000) at.clear(); // bounded: owners are many only in a flood
  at.set(ownerId, now);
  return true;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req, 256 * 1024);
  try {
    return JSON.parse(text);
  } catch {
    throw new ScimError(400, 'body is not valid JSON', 'invalidSyntax');
  }
}
