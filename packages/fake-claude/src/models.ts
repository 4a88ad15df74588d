// The model catalogue the fake serves on /v1/models and checks `model` against. A model is known when
// it is listed, or when its id has the shape of a Claude model name (claude-<family>-..., so future
// names Claude Code may send keep working); anything else (e.g. `claude-foo`) is a 404, as upstream.

export interface ModelInfo {
  type: 'model';
  id: string;
  display_name: string;
  created_at: string;
}

const model = (id: string, display_name: string, created: string): ModelInfo =>
  ({ type: 'model', id, display_name, created_at: `${created}T00:00:00Z` });

/** Newest first, as the real list is ordered. */
export const DEFAULT_MODELS: readonly ModelInfo[] = [
  model('claude-opus-4-7', 'Claude Opus 4.7', '2026-04-16'),
  model('claude-sonnet-4-6', 'Claude Sonnet 4.6', '2026-02-17'),
  model('claude-opus-4-6', 'Claude Opus 4.6', '2026-02-05'),
  model('claude-opus-4-5-20251101', 'Claude Opus 4.5', '2025-11-24'),
  model('claude-haiku-4-5-20251001', 'Claude Haiku 4.5', '2025-10-15'),
  model('claude-sonnet-4-5-20250929', 'Claude Sonnet 4.5', '2025-09-29'),
  model('claude-opus-4-1-20250805', 'Claude Opus 4.1', '2025-08-05'),
  model('claude-opus-4-20250514', 'Claude Opus 4', '2025-05-22'),
  model('claude-sonnet-4-20250514', 'Claude Sonnet 4', '2025-05-22'),
  model('claude-3-7-sonnet-20250219', 'Claude Sonnet 3.7', '2025-02-24'),
  model('claude-3-5-haiku-20241022', 'Claude Haiku 3.5', '2024-10-22'),
  model('claude-3-haiku-20240307', 'Claude Haiku 3', '2024-03-07'),
];

const CLAUDE_NAME = /^claude-(?:\d+(?:[-.]\d+)*-)?(?:opus|sonnet|haiku|fable|instant)(?:-[a-z0-9.]+)*(?:\[1m\])?$/;

/**
 * The aliases a dated model id answers to, as the API resolves them: the id without its date
 * (claude-sonnet-4-5-20250929 → claude-sonnet-4-5) and, for the Claude 3 generation, that name
 * with `-latest` (claude-3-5-haiku-latest). An id without a date is its own alias.
 */
export function modelAliases(id: string): string[] {
  const undated = id.replace(/-\d{8}$/, '');
  if (undated === id) return [];
  return id.startsWith('claude-3-') ? [undated, `${undated}-latest`] : [undated];
}

export class ModelCatalogue {
  private readonly byId: Map<string, ModelInfo>;
  /** Alias → model; the first (newest) model to claim an alias keeps it. */
  private readonly byAlias = new Map<string, ModelInfo>();

  constructor(readonly models: readonly ModelInfo[] = DEFAULT_MODELS) {
    this.byId = new Map(models.map((m) => [m.id, m]));
    for (const m of models) {
      for (const alias of modelAliases(m.id)) if (!this.byAlias.has(alias) && !this.byId.has(alias)) this.byAlias.set(alias, m);
    }
  }

  knows(id: string): boolean {
    return this.byId.has(id) || CLAUDE_NAME.test(id);
  }

  /** The model an id or alias names (GET /v1/models/{model_id} takes either and answers the model's own id). */
  get(id: string): ModelInfo | undefined {
    return this.byId.get(id) ?? this.byAlias.get(id);
  }
}

/**
 * One page of a list in Anthropic's cursor shape: `{data, has_more, first_id, last_id}`, with
 * `limit` (default 20, 1..1000), `after_id` and `before_id` as the real endpoints take them.
 */
export function listPage<T extends { id: string }>(items: readonly T[], query: URLSearchParams): { data: T[]; has_more: boolean; first_id: string | null; last_id: string | null } {
  const limit = Math.min(1000, Math.max(1, Number(query.get('limit') ?? 20) || 20));
  const after = query.get('after_id');
  const before = query.get('before_id');
  let data: T[];
  let hasMore: boolean;
  if (before) {
    const end = items.findIndex((i) => i.id === before);
    const stop = end === -1 ? 0 : end;
    const start = Math.max(0, stop - limit);
    data = items.slice(start, stop);
    hasMore = start > 0;
  } else {
    const idx = after ? items.findIndex((i) => i.id === after) : -1;
    const start = after ? (idx === -1 ? items.length : idx + 1) : 0;
    data = items.slice(start, start + limit);
    hasMore = start + limit < items.length;
  }
  return { data, has_more: hasMore, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null };
}
