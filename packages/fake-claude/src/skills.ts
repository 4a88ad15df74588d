// The Skills API store, in the shape both SDK majors read (BetaSkill, BetaSkillVersion): a skill is
// a display name plus versions, each version a folder of files (SKILL.md at its root) uploaded as
// multipart. A skill's name is its kebab-case slug, taken from the first upload's SKILL.md front
// matter (or its folder) and kept: a later version must resolve to the same one. A version's
// description comes from its SKILL.md. A version downloads as a zip of its folder, as upstream.
// Bytes stay on disk; nothing here executes a skill.
import { readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { newId } from '@skillgate/wire';
import type { StoredUpload } from './multipart.js';

export interface SkillObject {
  id: string;
  type: 'skill';
  display_name: string;
  latest_version_id: string;
  source: { type: 'custom' };
  created_at: string;
  updated_at: string;
}

export interface SkillVersionObject {
  id: string;
  type: 'skill_version';
  skill_id: string;
  name: string;
  description: string;
  created_at: string;
}

interface Version { object: SkillVersionObject; files: StoredUpload[] }

export class SkillStore {
  private readonly skills = new Map<string, { object: SkillObject; versions: Version[] }>();

  /** A new skill with its first version, or the reason the upload is not a skill. */
  async create(displayName: string | undefined, files: StoredUpload[]): Promise<SkillObject | string> {
    const id = newId('skill_01');
    const version = await makeVersion(id, files, undefined);
    if (typeof version === 'string') return version;
    const now = version.object.created_at;
    const object: SkillObject = {
      id, type: 'skill', display_name: displayName || version.object.name, latest_version_id: version.object.id,
      source: { type: 'custom' }, created_at: now, updated_at: now,
    };
    this.skills.set(id, { object, versions: [version] });
    return object;
  }

  /** A new version of a skill (undefined: no such skill), or the reason the upload is refused. */
  async addVersion(skillId: string, files: StoredUpload[]): Promise<SkillVersionObject | string | undefined> {
    const entry = this.skills.get(skillId);
    if (!entry) return undefined;
    const version = await makeVersion(skillId, files, entry.versions[0]!.object.name);
    if (typeof version === 'string') return version;
    entry.versions.push(version);
    entry.object.latest_version_id = version.object.id;
    entry.object.updated_at = version.object.created_at;
    return version.object;
  }

  get(id: string): SkillObject | undefined { return this.skills.get(id)?.object; }
  list(): SkillObject[] { return [...this.skills.values()].reverse().map((s) => s.object); }
  delete(id: string): boolean { return this.skills.delete(id); }

  versions(skillId: string): SkillVersionObject[] | undefined {
    return this.skills.get(skillId)?.versions.map((v) => v.object).reverse();
  }

  /** A version by its id, or `latest`. */
  version(skillId: string, version: string): Version | undefined {
    const entry = this.skills.get(skillId);
    const id = version === 'latest' ? entry?.object.latest_version_id : version;
    return entry?.versions.find((v) => v.object.id === id);
  }

  deleteVersion(skillId: string, versionId: string): boolean {
    const entry = this.skills.get(skillId);
    if (!entry) return false;
    const before = entry.versions.length;
    entry.versions = entry.versions.filter((v) => v.object.id !== versionId);
    if (entry.versions.length > 0) entry.object.latest_version_id = entry.versions.at(-1)!.object.id;
    return entry.versions.length < before;
  }

  /** A version's folder as a zip archive (stored, not compressed: what matters here is the files). */
  async archive(version: Version): Promise<Buffer> {
    return zipStored(await Promise.all(version.files.map(async (f) => ({ name: f.filename, bytes: await readFile(f.path) }))));
  }
}

/** A version object, or the reason the upload is not one (Anthropic's wording where known). */
async function makeVersion(skillId: string, files: StoredUpload[], slug: string | undefined): Promise<Version | string> {
  const skillMd = files.find((f) => /(^|\/)SKILL\.md$/.test(f.filename) && f.filename.split('/').length <= 2);
  if (!skillMd) return 'SKILL.md file must be exactly in the top-level folder.';
  const folder = skillMd.filename.includes('/') ? skillMd.filename.split('/')[0]! : undefined;
  if (files.some((f) => (f.filename.includes('/') ? f.filename.split('/')[0] : undefined) !== folder)) {
    return 'All files must be in the same top-level directory.';
  }
  const front = parseFrontMatter(await readFile(skillMd.path, 'utf8'));
  const name = front.name ?? folder;
  if (!name) return 'SKILL.md must have a name in its YAML frontmatter.';
  if (slug !== undefined && name !== slug) return `A new version must keep the skill's name "${slug}"; this upload's SKILL.md names "${name}".`;
  const object: SkillVersionObject = {
    id: newId('skillver_01'), type: 'skill_version', skill_id: skillId, name, description: front.description ?? '',
    created_at: new Date().toISOString(),
  };
  return { object, files };
}

function parseFrontMatter(text: string): { name?: string; description?: string } {
  const m = /^---\r?\n([\s\S]*?)\r?\n---/.exec(text);
  if (!m) return {};
  const out: { name?: string; description?: string } = {};
  for (const line of m[1]!.split(/\r?\n/)) {
    const kv = /^(name|description):\s*(.*)$/.exec(line);
    if (kv) out[kv[1] as 'name' | 'description'] = kv[2]!.replace(/^["']|["']$/g, '');
  }
  return out;
}

/** A zip archive of `entries`, each stored as is (method 0), with its CRC-32 and a central directory. */
export function zipStored(entries: ReadonlyArray<{ name: string; bytes: Buffer }>): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const { name, bytes } of entries) {
    const fileName = Buffer.from(name, 'utf8');
    const crc = crc32(bytes);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(bytes.length, 18);
    local.writeUInt32LE(bytes.length, 22);
    local.writeUInt16LE(fileName.length, 26);
    locals.push(local, fileName, bytes);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4); // made by
    entry.writeUInt16LE(20, 6); // version needed
    entry.writeUInt16LE(0x0800, 8);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(bytes.length, 20);
    entry.writeUInt32LE(bytes.length, 24);
    entry.writeUInt16LE(fileName.length, 28);
    entry.writeUInt32LE(offset, 42);
    central.push(entry, fileName);
    offset += 30 + fileName.length + bytes.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
