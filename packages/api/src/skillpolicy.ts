// SkillPolicy (namespaced): the policy a skill runs under. One schema serves policy enforcement,
// masking, recording and approvals. Every field is optional; an empty spec allows everything that
// the sidecar's built-in defaults allow (record-mode masking, default limits). Several policies may
// select the same skill: see @skillgate/policy `combine` for how they merge (most restrictive wins).
import type { Condition, ObjectMeta } from './meta.js';

export type MaskingMode = 'record' | 'request' | 'response' | 'both' | 'tokenize';
export type MaskingAction = 'redact' | 'partial' | 'hash' | 'tokenize';

export interface SkillSelector {
  /** Skill names (pod label skillgate.dev/skill). Empty or absent: every skill in the namespace. */
  skills?: string[];
  /** Pod labels that must all match. */
  matchLabels?: Record<string, string>;
}

export interface CustomEntity {
  /** Entity type name reported in findings, e.g. EMPLOYEE_ID. Upper snake case. */
  name: string;
  /** A regular expression (RE2 syntax subset: no backreferences or lookaround). */
  pattern?: string;
  /** Literal keywords (matched case-insensitively on word boundaries). */
  keywords?: string[];
  action?: MaskingAction;
}

export interface MaskingSpec {
  /** record (default): records hold masked copies, bytes to/from Claude untouched. */
  mode?: MaskingMode;
  /** Per-entity action; entity types as in CONTRACT.md (EMAIL_ADDRESS, SECRET, ...). */
  entities?: Array<{ type: string; action?: MaskingAction; enabled?: boolean }>;
  /** Action for entities not listed. Default redact. */
  defaultAction?: MaskingAction;
  /** Also mask thinking blocks in what Claude and the skill exchange (breaks signed thinking on later turns when rewriting). Default false. The record masks them always. */
  thinking?: boolean;
  custom?: CustomEntity[];
}

export interface RecordingSpec {
  /** What request/response bodies go into records: masked copies (default) or only digests. */
  bodies?: 'masked' | 'digest';
  /** Header whose value groups requests into a session (besides x-claude-code-session-id etc.). */
  sessionHeader?: string;
  /** Seconds of inactivity after which a new session starts when nothing else groups requests. */
  sessionGapSeconds?: number;
}

export interface RateLimitSpec {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

export interface TimeWindow {
  /** Days the window applies: Mon..Sun. Absent: every day. */
  days?: Array<'Mon' | 'Tue' | 'Wed' | 'Thu' | 'Fri' | 'Sat' | 'Sun'>;
  /** "HH:MM" 24h, inclusive start, exclusive end. */
  start: string;
  end: string;
  /** IANA time zone, default UTC. */
  timeZone?: string;
}

/** Conditions of an approval rule; a rule matches when every condition given matches. */
export interface ApprovalCondition {
  models?: string[];            // model globs
  tools?: string[];             // custom tool name globs requested
  serverTools?: string[];       // server tool families: web_search, web_fetch, code_execution, bash, text_editor, memory, ...
  mcpServers?: boolean;         // any mcp_servers present
  fetchDomains?: string[];      // web_fetch allowed_domains / URLs touching these domain globs
  findings?: Array<{ type: string; min?: number }>; // masking findings in the newest turn
  keywords?: string[];          // whole words, case-insensitive as Unicode folds case (ſ is s, K is k), in the newest user turn or tool result
  patterns?: string[];          // regexes, same scope as keywords
  inputTokensOver?: number;     // estimated input tokens
  firstToolUse?: boolean;       // a tool this skill has never used before
}

export interface ApprovalRule {
  name: string;
  when: ApprovalCondition;
  approvers?: { groups?: string[]; users?: string[]; quorum?: number };
  timeoutSeconds?: number;
}

export interface SkillPolicySpec {
  selector?: SkillSelector;
  models?: { allow?: string[]; deny?: string[] };
  maxTokens?: number;
  tools?: {
    /** Custom (client) tool name globs allowed. Absent: any. */
    allow?: string[];
    deny?: string[];
    /** Server tool families allowed (web_search, web_fetch, code_execution, bash, text_editor, memory, ...). Absent: any. */
    serverTools?: string[];
    /** Domains web_fetch / web_search may be restricted to; requests must set allowed_domains within these. */
    fetchDomains?: string[];
  };
  /** Allowlist of mcp_servers[].url globs. Absent: any; [] : none. */
  mcpServers?: { allowUrls?: string[] };
  /** Allowlist of container.skills[].skill_id globs. */
  containerSkills?: { allow?: string[] };
  /** Hosts (host or host:port globs) the egress proxy lets the skill reach. */
  egress?: { allowHosts?: string[] };
  rateLimits?: RateLimitSpec;
  /** Requests are allowed only inside one of these windows. */
  schedule?: { windows: TimeWindow[] };
  masking?: MaskingSpec;
  recording?: RecordingSpec;
  approval?: { defaultTimeoutSeconds?: number; rules?: ApprovalRule[] };
}

export interface SkillPolicyStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /** Sidecars that report running this generation. */
  sidecars?: number;
}

export interface SkillPolicy {
  apiVersion: 'skillgate.dev/v1alpha1';
  kind: 'SkillPolicy';
  metadata: ObjectMeta;
  spec: SkillPolicySpec;
  status?: SkillPolicyStatus;
}
