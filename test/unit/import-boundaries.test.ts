import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

interface ImportLine {
  file: string;
  spec: string;
  /** For relative imports: the top-level src folder (or file) it lands in. */
  target?: string;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (e.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Every static import/export-from and dynamic import() specifier, type-only ones included. */
async function importsOf(area: string): Promise<ImportLine[]> {
  const lines: ImportLine[] = [];
  for (const file of await sourceFiles(join(SRC, area))) {
    const text = await readFile(file, 'utf8');
    const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]/g), ...text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]/g), ...text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);
    for (const spec of specs) {
      const line: ImportLine = { file: relative(SRC, file), spec };
      if (spec.startsWith('.')) line.target = relative(SRC, resolve(dirname(file), spec)).split('/')[0];
      lines.push(line);
    }
  }
  return lines;
}

function offending(lines: ImportLine[], bad: (l: ImportLine) => boolean): string[] {
  return lines.filter(bad).map((l) => `${l.file} imports ${l.spec}`);
}

describe('import boundaries', () => {
  it('finds the imports it scans (guards the scanner itself)', async () => {
    const http = await importsOf('http');
    expect(http.some((l) => l.target === 'oci')).toBe(true);
    expect(http.some((l) => l.spec === 'express')).toBe(true);
  });

  it('http/ never imports storage/, upstream/ or node:fs', async () => {
    const lines = await importsOf('http');
    expect(offending(lines, (l) => l.target === 'storage' || l.target === 'upstream' || /^(node:)?fs(\/promises)?$/.test(l.spec))).toEqual([]);
  });

  it('oci/ imports nothing of ours outside oci/', async () => {
    const lines = await importsOf('oci');
    expect(offending(lines, (l) => l.target !== undefined && l.target !== 'oci')).toEqual([]);
  });

  it('ui/ and api/ (pages and JSON API) never import node:fs, storage/, metadata/ or upstream/: they read through the read model', async () => {
    const lines = [...(await importsOf('ui')), ...(await importsOf('api'))];
    expect(offending(lines, (l) => l.target === 'storage' || l.target === 'metadata' || l.target === 'upstream' || /^(node:)?fs(\/promises)?$/.test(l.spec))).toEqual([]);
  });

  it('storage/ and metadata/ never import http/', async () => {
    const lines = [...(await importsOf('storage')), ...(await importsOf('metadata'))];
    expect(offending(lines, (l) => l.target === 'http')).toEqual([]);
  });
});
