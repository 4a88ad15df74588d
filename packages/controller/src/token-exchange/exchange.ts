// The token exchange itself: a projected ServiceAccount token in, a workload token (plus the upstream
// credential, the installation masking key and, when configured, the sidecars' Redis URL) out — or an OAuth error saying exactly why not. Order matters: authenticate (TokenReview)
// before reading anything, resolve the pod, then refuse offboarded owners, locked skills and pods
// that held a locked token, and only then sign; record the token's jti, then check owner and locks
// again (a revocation that ran meanwhile could not find this token, a lock made meanwhile was not
// seen). Never logs or returns the subject token; never issues to an unknown pod. A record key sent
// along is endorsed for the same identity, after the same checks.
//
// A token lock (a responder's `skillgate lock token JTI`) binds the pod that held the token: while it
// is in force that pod gets no new token, whichever of its tokens it names, expired or not; a
// refresh would otherwise carry the skill past the lock with a jti the lock does not name. The
// controller's own revocations (also token locks) do not bind: the pod re-exchanges past them.
//
// Where the installation requires known owners, an owner nobody vouched for (only ever named by a
// pod annotation, which the skill's author writes) is refused like an offboarded one: otherwise a
// made-up address would be an owner no identity provider can ever offboard.
import type { SkillIdentity } from '@skillgate/api';
import { DEFAULT_TOKEN_TTL_SECONDS, isExpired, isRevocationLock, type Lock, type LockSet, type RecordKeyEndorser, type WorkloadTokenIssuer } from '@skillgate/identity';
import type { IssuedTokenIndex } from './issued.js';
import type { UpstreamCredentialProvider } from '../credentials.js';
import { toGrant } from '../credentials.js';
import { OAuthError, TOKEN_TYPE_JWT, type TokenExchangeRequest, type TokenExchangeResponse } from './oauth.js';
import type { PodSource, TokenReviewer } from './review.js';
import { identityFromPod } from './pod-identity.js';

export interface TokenExchangeDeps {
  reviewer: TokenReviewer;
  pods: PodSource;
  issuer: WorkloadTokenIssuer;
  /** Endorses the record key a sidecar sends (absent: `record_key` is ignored). */
  endorser?: RecordKeyEndorser;
  issued: IssuedTokenIndex;
  /** Told when the issued-token index could not be written (the token is still issued: the owner
   *  lock and the token's short life still bound it, but it cannot be revoked by jti). */
  onIndexFault?(err: Error): void;
  /** Is this owner allowed to run skills now? */
  ownerActive(email: string): boolean;
  /**
   * Has the identity provider or a responder vouched for this owner (isVouched)? Given only when
   * the installation requires known owners: a skill whose owner nobody vouched for gets no token.
   */
  ownerVouched?(email: string): boolean;
  /** The locks in force (the controller's own view, same set the sidecars get). */
  locks(): LockSet;
  credentials: UpstreamCredentialProvider;
  /** The installation masking key, handed to every sidecar with its token (absent: none configured). */
  maskingKey?: string;
  /** The Redis URL sidecars record to, handed over like the credential (absent: the injector's REDIS_URL). */
  sidecarRedisUrl?: string;
  /** skillgate's own namespace, which the webhooks skip: no pod there gets a token. */
  systemNamespace?: string;
  /** Policy generation to stamp into the token (0 when unknown). */
  policyGeneration?(identity: SkillIdentity): number;
  clock?: () => number;
  ttlSeconds?: number;
}

export class TokenExchange {
  constructor(private readonly deps: TokenExchangeDeps) {}

  /** Throws OAuthError (with `identity` attached when known) on refusal. */
  async exchange(req: TokenExchangeRequest): Promise<{ response: TokenExchangeResponse; identity: SkillIdentity; jti: string; expiresAt: number }> {
    const now = (this.deps.clock ?? Date.now)();
    const reviewed = await this.deps.reviewer.review(req.subjectToken);
    const [pod, namespace] = await Promise.all([this.deps.pods.pod(reviewed.namespace, reviewed.podName), this.deps.pods.namespace(reviewed.namespace)]);
    const identity = identityFromPod(reviewed, pod, namespace, this.deps.systemNamespace ? { systemNamespace: this.deps.systemNamespace } : {});
    // The pod's tokens as the index held them at the first check: the second needs them again only
    // for a token lock made meanwhile, and the one token issued between the checks is added.
    const held: { jtis?: Set<string> } = {};
    const mayHave = async (at: number): Promise<void> => {
      if (!this.deps.ownerActive(identity.owner)) {
        throw new OAuthError('access_denied', `owner ${identity.owner} of skill ${identity.skill} is offboarded; give the skill an active owner (set skillgate.dev/owner in its pod template and roll it out: a running pod's owner cannot change) or reinstate them (skillgate owners reinstate)`);
      }
      if (this.deps.ownerVouched && !this.deps.ownerVouched(identity.owner)) {
        throw new OAuthError('access_denied', `owner ${identity.owner} of skill ${identity.skill} is not known: this installation requires owners the identity provider (SCIM) or a responder vouched for (controller.requireKnownOwners), and nobody vouched for ${identity.owner} (only the pod's annotation, which the skill's author writes, names them); provision them through SCIM, run \`skillgate owners add ${identity.owner}\`, or give the skill a known owner`);
      }
      const locks = this.deps.locks();
      const hit = locks.match({ identity }, at);
      if (hit) throw new OAuthError('access_denied', `skill ${identity.skill} is locked by SkillLock "${hit.lockName}": ${hit.reason}`);
      const tokenLock = await this.tokenLockOnPod(identity, locks, at, held);
      if (tokenLock) {
        throw new OAuthError('access_denied', `pod ${identity.namespace}/${identity.pod} of skill ${identity.skill} is locked by SkillLock "${tokenLock.name}": ${tokenLock.reason} (it locks workload token ${tokenLock.target.value}, which this pod held: the pod gets no new token until the lock is lifted)`);
      }
    };
    try {
      await mayHave(now);
      const ttlSeconds = Math.min(this.deps.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS, req.requestedTtlSeconds ?? Infinity);
      const issued = await this.deps.issuer.issue(identity, {
        ttlSeconds,
        policyGeneration: this.deps.policyGeneration?.(identity) ?? 0,
      });
      const expiresAt = issued.claims.exp * 1000;
      let credential;
      try {
        credential = await this.deps.credentials.credentialFor(identity);
      } catch (err) {
        throw new OAuthError('temporarily_unavailable', `${(err as Error).message}; retry shortly`);
      }
      // The credential's own expiry, counted from now: the sidecar refreshes before it passes.
      const credentialAt = (this.deps.clock ?? Date.now)();
      await this.deps.issued.record({ jti: issued.claims.jti, owner: identity.owner, skill: identity.skill, namespace: identity.namespace, pod: identity.pod, expiresAt })
        .catch((err: Error) => this.deps.onIndexFault?.(err));
      held.jtis?.add(issued.claims.jti);
      // Again, now that the token is in the index: a revocation that read the index while this
      // token was being made did not see it, but it has changed the owner or the locks by now.
      await mayHave((this.deps.clock ?? Date.now)());
      const endorsement = req.recordKeyThumbprint && this.deps.endorser ? await this.deps.endorser.endorse(identity, req.recordKeyThumbprint) : undefined;
      const response: TokenExchangeResponse = {
        access_token: issued.token,
        issued_token_type: TOKEN_TYPE_JWT,
        token_type: 'N_A',
        expires_in: issued.expiresIn,
        skill_identity: identity,
        ...(credential ? { upstream_credential: toGrant(credential, credentialAt) } : {}),
        ...(endorsement ? { record_key_endorsement: endorsement } : {}),
        ...(this.deps.maskingKey ? { masking_key: this.deps.maskingKey } : {}),
        ...(this.deps.sidecarRedisUrl ? { redis_url: this.deps.sidecarRedisUrl } : {}),
      };
      return { response, identity, jti: issued.claims.jti, expiresAt };
    } catch (err) {
      if (err instanceof OAuthError) Object.assign(err, { identity });
      throw err;
    }
  }

  /**
   * The token lock in force that names a token this pod was issued, if any. Cheap when no responder
   * has locked a token (the usual case): the index is read only while such a lock is in force, and
   * then once per exchange (`held`, which the caller keeps across its two checks and adds the token
   * it issued to), one sorted set of at most a few dozen members. Fails closed: a pod that
   * cannot be cleared is told to retry (it keeps a token it still holds), not handed a new one.
   */
  private async tokenLockOnPod(identity: SkillIdentity, locks: LockSet, at: number, held: { jtis?: Set<string> }): Promise<Lock | undefined> {
    const tokenLocks = locks.list().filter((l) => l.target.kind === 'token' && !isExpired(l, at) && !isRevocationLock(l));
    if (tokenLocks.length === 0) return undefined;
    if (!held.jtis) {
      try {
        held.jtis = new Set(await this.deps.issued.jtisOfPod(identity.namespace, identity.pod));
      } catch (err) {
        throw new OAuthError('temporarily_unavailable', `a token lock is in force and the tokens issued to pod ${identity.namespace}/${identity.pod} cannot be read (${(err as Error).message}); retry shortly`);
      }
    }
    const jtis = held.jtis;
    return tokenLocks.find((l) => jtis.has(l.target.value));
  }
}
