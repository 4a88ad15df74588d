// Where the upstream (Claude API) credential a sidecar receives comes from. The skill never sees it;
// the sidecar gets it only alongside a valid workload token. Two providers ship: a static key read
// from a Secret only the controller may read, and a pluggable short-lived one, so that Anthropic
// workload identity federation (or any token broker) can mint a per-skill, expiring bearer token
// instead of handing out a long-lived key. Providers never log the credential.
import type { SkillIdentity } from '@skillgate/api';
import { describeApiError, type KubeClients } from './kube.js';
import type { UpstreamCredentialGrant } from './token-exchange/oauth.js';

export interface UpstreamCredential {
  type: 'api_key' | 'bearer';
  value: string;
  /** Epoch ms when the credential itself expires (federated tokens); absent for static keys. */
  expiresAt?: number;
}

export interface UpstreamCredentialProvider {
  /** The credential for this skill now. May differ per skill (per-owner workspaces, federation). */
  credentialFor(identity: SkillIdentity): Promise<UpstreamCredential | undefined>;
}

export function toGrant(c: UpstreamCredential, now: number): UpstreamCredentialGrant {
  return { type: c.type, value: c.value, ...(c.expiresAt ? { expires_in: Math.max(0, Math.floor((c.expiresAt - now) / 1000)) } : {}) };
}

export const noCredential: UpstreamCredentialProvider = { credentialFor: async () => undefined };

export function staticCredential(value: string, type: 'api_key' | 'bearer' = 'api_key'): UpstreamCredentialProvider {
  return { credentialFor: async () => ({ type, value }) };
}

/** Reads `key` of Secret `namespace/name`, cached for `cacheMs` so rotations are picked up. */
export class SecretCredentialProvider implements UpstreamCredentialProvider {
  private cached: { value: string; at: number } | undefined;

  constructor(
    private readonly kube: KubeClients,
    private readonly ref: { namespace: string; name: string; key: string },
    private readonly cacheMs = 30_000,
    private readonly clock: () => number = Date.now,
  ) {}

  async credentialFor(): Promise<UpstreamCredential | undefined> {
    const now = this.clock();
    if (this.cached && now - this.cached.at < this.cacheMs) return { type: 'api_key', value: this.cached.value };
    try {
      const secret = await this.kube.core.readNamespacedSecret({ name: this.ref.name, namespace: this.ref.namespace });
      const b64 = secret.data?.[this.ref.key];
      if (!b64) throw new Error(`Secret ${this.ref.namespace}/${this.ref.name} has no key ${this.ref.key}`);
      const value = Buffer.from(b64, 'base64').toString('utf8').trim();
      this.cached = { value, at: now };
      return { type: 'api_key', value };
    } catch (err) {
      // Keep serving the last good key through a brief API outage.
      if (this.cached) return { type: 'api_key', value: this.cached.value };
      throw new Error(`cannot read the upstream credential Secret: ${describeApiError(err)}`);
    }
  }
}

/**
 * A short-lived credential from a broker (e.g. Anthropic workload identity federation): `mint` gets
 * the skill identity and returns a bearer token with its expiry; tokens are reused per skill until
 * 80% of their life has passed.
 */
export class FederatedCredentialProvider implements UpstreamCredentialProvider {
  private readonly cache = new Map<string, UpstreamCredential & { mintedAt: number }>();

  constructor(
    private readonly mint: (identity: SkillIdentity) => Promise<{ token: string; expiresAt: number }>,
    private readonly clock: () => number = Date.now,
  ) {}

  async credentialFor(identity: SkillIdentity): Promise<UpstreamCredential> {
    const key = `${identity.namespace}/${identity.skill}/${identity.owner}`;
    const now = this.clock();
    const hit = this.cache.get(key);
    if (hit?.expiresAt && now < hit.mintedAt + (hit.expiresAt - hit.mintedAt) * 0.8) return { type: hit.type, value: hit.value, expiresAt: hit.expiresAt };
    const { token, expiresAt } = await this.mint(identity);
    this.cache.set(key, { type: 'bearer', value: token, expiresAt, mintedAt: now });
    return { type: 'bearer', value: token, expiresAt };
  }
}
