// Every instantiation of every CPU loop is vector code, in every copy the binary has
// (native/cpu/arch: baseline SSE2, AVX2, AVX-512). A loop the compiler leaves scalar passes every
// correctness test and runs 4–16× slower, so this reads the built binary itself: each entry point
// (blockParts, stepRange, weighRows, divergenceRows: one function per instantiation, never
// inlined) must hold vector instructions at its copy's width — packed SSE for baseline, ymm for
// AVX2, zmm for AVX-512. Needs binutils (nm, objdump); skipped without them.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.join(__dirname, '..');
const COPIES = ['baseline', 'avx2', 'avx512'] as const;
type Copy = (typeof COPIES)[number];
const POWS = ['Two', 'One', 'Zero', 'Half', 'ThreeHalves', 'Three', 'Integer', 'General'].map((p) => `PowBeta${p}`);
// The instantiations each copy must have (cpu/arch/table.h dispatches to all of them).
const EXPECTED: Record<string, number> = {
  blockParts: 3 * POWS.length * 2, // 3 modes × β kinds × 2 dtypes
  stepRange: 3 * 2, // γ = 1, ½, other
  weighRows: 2,
  divergenceRows: POWS.length * 2 * 2, // β kinds × weighted or not × 2 dtypes
};
// Vector instructions at each copy's width: any instruction on a ymm or zmm register (scalar code
// never touches them); for the baseline copy, whose scalar code uses xmm registers too, packed
// arithmetic or a packed load or store. A loop counts as vectorised from 2 on (a load and a
// store: β=2's neg part is a copy of X).
const VECTOR: Record<Copy, RegExp> = {
  baseline: /\b(add|sub|mul|div|sqrt|max|min)p[sd]\s|\bmov(up[sd]|dqu)\s.*\(/,
  avx2: /%ymm/,
  avx512: /%zmm/,
};
const MIN_VECTOR = 2;

/** The binary lib/native.ts loads (BETANMF_NATIVE, else the source build, else the prebuild). */
function addonFile(): string | undefined {
  const candidates = process.env.BETANMF_NATIVE
    ? [path.resolve(process.env.BETANMF_NATIVE)]
    : [path.join(root, 'build', 'Release', 'betanmf.node'), path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'node.napi.node')];
  return candidates.find((f) => fs.existsSync(f));
}

interface Loop { name: string; copy: Copy; entry: string; start: number; end: number }

/** The loops' entry points in the binary, with their address ranges (nm -S). */
function loops(file: string): Loop[] {
  const r = spawnSync('nm', ['-C', '-S', '--defined-only', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  const out: Loop[] = [];
  const re = /^([0-9a-f]+) ([0-9a-f]+) [tTwW] (.*\bbnmf::cpu::(baseline|avx2|avx512)::(blockParts|stepRange|weighRows|divergenceRows)<.*)$/;
  for (const line of r.stdout.split('\n')) {
    const m = re.exec(line);
    if (m) out.push({ name: m[3], copy: m[4] as Copy, entry: m[5], start: parseInt(m[1], 16), end: parseInt(m[1], 16) + parseInt(m[2], 16) });
  }
  return out;
}

/** Vector instructions at each loop's width, from one disassembly of their range. */
function vectorCounts(file: string, found: Loop[]): Map<Loop, number> {
  const lo = Math.min(...found.map((l) => l.start)), hi = Math.max(...found.map((l) => l.end));
  const r = spawnSync('objdump', ['-d', '--no-show-raw-insn', `--start-address=0x${lo.toString(16)}`, `--stop-address=0x${hi.toString(16)}`, file],
    { encoding: 'utf8', maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, r.stderr);
  const sorted = [...found].sort((a, b) => a.start - b.start);
  const counts = new Map<Loop, number>(found.map((l) => [l, 0]));
  let i = 0;
  for (const line of r.stdout.split('\n')) {
    const m = /^\s+([0-9a-f]+):\s+(.*)$/.exec(line);
    if (!m) continue;
    const addr = parseInt(m[1], 16);
    while (i < sorted.length && addr >= sorted[i].end) i++;
    if (i === sorted.length) break;
    const loop = sorted[i];
    if (addr >= loop.start && VECTOR[loop.copy].test(m[2])) counts.set(loop, counts.get(loop)! + 1);
  }
  return counts;
}

const tools = ['nm', 'objdump'].every((t) => spawnSync(t, ['--version']).status === 0);
const file = addonFile();

describe('vectorised loops in the built binary', function () {
  this.timeout(120_000);
  before(function () {
    if (!tools || !file || process.platform !== 'linux' || process.arch !== 'x64') {
      console.log('      (skipped: needs Linux x64, nm and objdump, and a built addon)');
      this.skip();
    }
  });

  let found: Loop[] = [];
  let counts = new Map<Loop, number>();
  before(function () {
    const symbols = spawnSync('nm', ['--defined-only', file!], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout;
    if (!/bnmf/.test(symbols)) {
      console.log(`      (skipped: ${path.relative(root, file!)} has no symbol table (stripped))`);
      this.skip();
    }
    found = loops(file!);
    if (found.length) counts = vectorCounts(file!, found);
  });

  it('has every instantiation of every loop in the baseline copy, and in each other copy it has', () => {
    const copies = new Set(found.map((l) => l.copy));
    assert.ok(copies.has('baseline'), 'no baseline copy of the loops found (renamed? inlined?)');
    for (const copy of copies) {
      for (const [entry, n] of Object.entries(EXPECTED)) {
        const got = found.filter((l) => l.copy === copy && l.entry === entry).length;
        assert.equal(got, n, `${copy}::${entry}: ${got} instantiations, expected ${n}`);
      }
    }
    console.log(`      copies in ${path.relative(root, file!)}: ${[...copies].join(', ')}`);
  });

  for (const copy of COPIES) {
    it(`${copy}: every loop is vector code at its width`, function () {
      const mine = found.filter((l) => l.copy === copy);
      if (!mine.length) {
        console.log(`      (skipped: this binary has no ${copy} copy)`);
        this.skip();
      }
      const scalar = mine.filter((l) => counts.get(l)! < MIN_VECTOR).map((l) => `${l.name} (${counts.get(l)})`);
      assert.deepEqual(scalar, [], `scalar loops in the ${copy} copy:\n  ${scalar.join('\n  ')}`);
    });
  }
});
