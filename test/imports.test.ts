// The import graph of lib/: no cycle (type-only imports included: a cycle of types is still two
// files that cannot be read apart), and the library never depends on its command line.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

const LIB = path.join(__dirname, '..', 'lib');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Each lib file (relative to lib/) → the lib files it imports or re-exports from. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(LIB)) {
    const text = fs.readFileSync(file, 'utf8');
    const targets: string[] = [];
    // import … from './x', export … from './x', import './x', import('./x'), require('./x')
    const re = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"](\.{1,2}\/[^'"]*)['"]/g;
    for (const m of text.matchAll(re)) {
      const base = path.resolve(path.dirname(file), m[1]);
      const hit = [`${base}.ts`, path.join(base, 'index.ts')].find((p) => fs.existsSync(p));
      if (hit) targets.push(path.relative(LIB, hit));
    }
    graph.set(path.relative(LIB, file), [...new Set(targets)]);
  }
  return graph;
}

/** The cycles of the graph (each once, as the path that closes it). */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

describe('lib/ import graph', () => {
  const graph = importGraph();

  it('sees the imports (the parser is not blind)', () => {
    assert.ok(graph.size > 10);
    assert.ok(graph.get('betanmf.ts')?.includes('prepare.ts'));
    assert.ok(graph.get('persist.ts')?.includes('options.ts')); // a type-only import counts
    assert.deepEqual(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]])), [['a', 'b', 'c', 'a']]);
  });

  it('has no cycle, type-only imports included', () => {
    const found = cycles(graph).map((c) => c.join(' → '));
    assert.deepEqual(found, [], `import cycles in lib/:\n${found.join('\n')}`);
  });

  it('has no import of lib/cli from outside lib/cli (the library does not depend on its command line)', () => {
    const bad = [...graph].flatMap(([file, targets]) =>
      file.startsWith(`cli${path.sep}`) ? [] : targets.filter((t) => t.startsWith(`cli${path.sep}`)).map((t) => `${file} → ${t}`));
    assert.deepEqual(bad, [], `lib files importing lib/cli:\n${bad.join('\n')}`);
  });
});
