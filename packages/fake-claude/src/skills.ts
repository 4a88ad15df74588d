// The Skills API store: a skill is a display title plus versions, each version a folder of files
// (SKILL.md at its root) uploaded as multipart. The version's name and description come from
// SKILL.md's front matter, as upstream. Bytes stay on disk; nothing here executes a skill.
import { readFile } from 'node:fs/promises';
import { newId } from '@skillgate/wire';
import type { StoredUpload } from './multipart.js';

export interface SkillObject {
  id: string;
  type: 'skill';
  display_title: string | null;
  source: 'custom';
  latest_version: string | null;
  created_at: string;
  updated_at: string;
}

export interface SkillVersionObject {
  id: string;
  type: 'skill_version';
  skill_id: string;
  version: string;
  name: string;
  description: string;
  directory: string;
  created_at: string;
}

interface Version { object: SkillVersionObject; files: StoredUpload[] }

export class SkillStore {
  private readonly skills = new Map<string, { object: SkillObject; versions: Version[] }>();
  private clock = 0;

  async create(displayTitle: string | undefined, files: StoredUpload[]): Promise<SkillObject | string> {
    const now = new Date().toISOString();
    const object: SkillObject = { id: newId('skill_01'), type: 'skill', display_title: displayTitle ?? null, source: 'custom', latest_version: null, created_at: now, updated_at: now };
    const entry = { object, versions: [] as Version[] };
    const version = await this.makeVersion(object.id, files);
    if (typeof version === 'string') return version;
    entry.versions.push(version);
    object.latest_version = version.object.version;
    if (object.display_title === null) object.display_title = version.object.name;
    this.skills.set(object.id, entry);
    return object;
  }

  async addVersion(skillId: string, files: StoredUpload[]): Promise<SkillVersionObject | string | undefined> {
    const entry = this.skills.get(skillId);
    if (!entry) return undefined;
    const version = await this.makeVersion(skillId, files);
    if (typeof version === 'string') return version;
    entry.versions.push(version);
    entry.object.latest_version = version.object.version;
    entry.object.updated_at = version.object.created_at;
    return version.object;
  }

  get(id: string): SkillObject | undefined { return this.skills.get(id)?.object; }
  list(): SkillObject[] { return [...this.skills.values()].reverse().map((s) => s.object); }
  delete(id: string): boolean { return this.skills.delete(id); }

  versions(skillId: string): SkillVersionObject[] | undefined {
    return this.skills.get(skillId)?.versions.map((v) => v.object).reverse();
  }

  version(skillId: string, version: string): { object: SkillVersionObject; files: StoredUpload[] } | undefined {
    const v = this.skills.get(skillId)?.versions.find((x) => x.object.version === version || (version === 'latest' && x.object.version === this.skills.get(skillId)?.object.latest_version));
    return v;
  }

  deleteVersion(skillId: string, version: string): boolean {
    const entry = this.skills.get(skillId);
    if (!entry) return false;
    const before = entry.versions.length;
    entry.versions = entry.versions.filter((v) => v.object.version !== version);
    return entry.versions.length < before;
  }

  /** A version object, or the reason the upload is not a skill (Anthropic's wording where known). */
  private async makeVersion(skillId: string, files: StoredUpload[]): Promise<Version | string> {
    const skillMd = files.find((f) => /(^|\/)SKILL\.md$/.test(f.filename) && f.filename.split('/').length <= 2);
    if (!skillMd) return 'SKILL.md file must be exactly in the top-level folder.';
    const front = parseFrontMatter(await readFile(skillMd.path, 'utf8'));
    if (!front.name) return 'SKILL.md must have a name in its YAML frontmatter.';
    this.clock = Math.max(Date.now() * 1000, this.clock + 1);
    const object: SkillVersionObject = {
      id: newId('skillver_01'),
      type: 'skill_version',
      skill_id: skillId,
      version: String(this.clock),
      name: front.name,
      description: front.description ?? '',
      directory: skillMd.filename.includes('/') ? skillMd.filename.split('/')[0]! : front.name,
      created_at: new Date().toISOString(),
    };
    return { object, files };
  }
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
