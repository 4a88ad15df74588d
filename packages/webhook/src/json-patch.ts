// JSON Patch (RFC 6902) as the admission webhook speaks it: `diffToPatch` turns "pod before" and
// "pod as it should be" into the operations the API server applies, and `applyPatch` applies them
// (the tests use it to prove patch(before) == desired). Pure; never mutates its inputs.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type JsonPatchOp =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/** Escapes one JSON Pointer token (RFC 6901): ~ -> ~0, / -> ~1. */
export function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Structural equality of JSON values (object key order does not matter, array order does). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false;
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    for (const k of ka) if (!(k in b) || !jsonEqual(a[k], b[k])) return false;
    return true;
  }
  return false;
}

/**
 * Operations that turn `from` into `to`. Objects are diffed key by key; arrays of equal length element
 * by element; arrays whose length changed are replaced whole (a shifted list diffed by index would
 * produce more operations than it saves, and replacing keeps the patch obviously correct).
 */
export function diffToPatch(from: unknown, to: unknown, path = ''): JsonPatchOp[] {
  if (jsonEqual(from, to)) return [];
  if (isPlainObject(from) && isPlainObject(to)) {
    const ops: JsonPatchOp[] = [];
    for (const k of Object.keys(from)) {
      if (from[k] !== undefined && to[k] === undefined) ops.push({ op: 'remove', path: `${path}/${pointerToken(k)}` });
    }
    for (const k of Object.keys(to)) {
      if (to[k] === undefined) continue;
      if (from[k] === undefined) ops.push({ op: 'add', path: `${path}/${pointerToken(k)}`, value: to[k] });
      else ops.push(...diffToPatch(from[k], to[k], `${path}/${pointerToken(k)}`));
    }
    return ops;
  }
  if (Array.isArray(from) && Array.isArray(to) && from.length === to.length) {
    const ops: JsonPatchOp[] = [];
    for (let i = 0; i < to.length; i++) ops.push(...diffToPatch(from[i], to[i], `${path}/${i}`));
    return ops;
  }
  return [{ op: 'replace', path: path || '', value: to }];
}

function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`JSON pointer must start with "/": ${path}`);
  return path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Applies a patch to a deep copy of `doc` (add/replace/remove, as RFC 6902). Throws on a bad path. */
export function applyPatch<T>(doc: T, patch: readonly JsonPatchOp[]): T {
  let root: unknown = structuredClone(doc);
  for (const op of patch) {
    const tokens = parsePointer(op.path);
    if (tokens.length === 0) {
      if (op.op === 'remove') throw new Error('cannot remove the document root');
      root = structuredClone(op.value);
      continue;
    }
    let parent: unknown = root;
    for (const t of tokens.slice(0, -1)) {
      parent = Array.isArray(parent) ? parent[Number(t)] : isPlainObject(parent) ? parent[t] : undefined;
      if (parent === undefined) throw new Error(`path not found: ${op.path}`);
    }
    const last = tokens[tokens.length - 1]!;
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(i) || i < 0 || i > parent.length) throw new Error(`bad array index in ${op.path}`);
      if (op.op === 'add') parent.splice(i, 0, structuredClone(op.value));
      else if (op.op === 'replace') { if (i >= parent.length) throw new Error(`path not found: ${op.path}`); parent[i] = structuredClone(op.value); }
      else { if (i >= parent.length) throw new Error(`path not found: ${op.path}`); parent.splice(i, 1); }
    } else if (isPlainObject(parent)) {
      if (op.op !== 'add' && !(last in parent)) throw new Error(`path not found: ${op.path}`);
      if (op.op === 'remove') delete parent[last];
      else parent[last] = structuredClone(op.value);
    } else {
      throw new Error(`path not found: ${op.path}`);
    }
  }
  return root as T;
}
