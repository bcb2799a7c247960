// Every code block in README.md runs as written, so the docs cannot drift: ts blocks are
// type-checked as a consumer would (strict, module nodenext, `import … from 'betanmf'`
// resolving to this package's dist/) and run as ES modules; sh blocks run their `npx betanmf`
// commands in order in a fresh folder. Blocks that need a CUDA device, and commands that are not
// the CLI (npm ci, npm test: .ci/run runs those), are skipped visibly.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { devices } from '../lib';

const root = path.join(__dirname, '..');
const bin = path.join(root, 'bin', 'betanmf.js');
const tsx = require.resolve('tsx');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

interface Block {
  lang: string;
  line: number;
  code: string;
}

/** The README's fenced blocks with a language, and the line each starts on. */
export function readmeBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    blocks.push({ lang: open[1], line: start + 1, code: body.join('\n') + '\n' });
  }
  return blocks;
}

/** An sh block's commands: continuation lines joined, comments dropped, `a && b` split. */
function shCommands(code: string): string[] {
  return code
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter(Boolean)
    .flatMap((l) => l.split('&&').map((c) => c.trim()));
}

const blocks = readmeBlocks(fs.readFileSync(path.join(root, 'README.md'), 'utf8'));
const cudaAvailable = devices().some((d) => d.kind === 'cuda' && d.available);

describe('README.md: every code block runs as written', function () {
  this.timeout(300000);
  let project: string;

  before(() => {
    // A consumer project whose node_modules/betanmf is this package (as `npm install` would lay it out).
    project = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-readme-'));
    fs.mkdirSync(path.join(project, 'node_modules'));
    fs.symlinkSync(root, path.join(project, 'node_modules', 'betanmf'), 'dir');
    fs.writeFileSync(path.join(project, 'package.json'), '{ "name": "readme-consumer", "private": true }\n');
  });

  it('has the blocks this test knows how to run (ts and sh), and no others with a language', () => {
    assert.ok(blocks.filter((b) => b.lang === 'ts').length >= 4);
    assert.ok(blocks.filter((b) => b.lang === 'sh').length >= 2);
    for (const b of blocks) assert.ok(['ts', 'sh'].includes(b.lang), `README.md:${b.line}: a \`${b.lang}\` block this test does not run`);
  });

  it('the ts blocks type-check under strict, module nodenext, against the package\'s types', () => {
    const dir = path.join(project, 'typecheck');
    fs.mkdirSync(dir);
    blocks.filter((b) => b.lang === 'ts').forEach((b) => fs.writeFileSync(path.join(dir, `readme-${b.line}.mts`), b.code));
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true,
        skipLibCheck: false, types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')] },
      include: ['*.mts'],
    }));
    const r = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`.replace(/readme-(\d+)\.mts/g, 'README.md block at line $1'));
  });

  for (const b of blocks.filter((x) => x.lang === 'ts')) {
    const needsCuda = /needs a CUDA device/.test(b.code.split('\n')[0]);
    it(`ts block at README.md:${b.line} runs${needsCuda ? ' (needs a CUDA device)' : ''}`, function () {
      if (needsCuda && !cudaAvailable) {
        console.log(`      (skipped: README.md:${b.line} needs a CUDA device; none here)`);
        this.skip();
      }
      const cwd = fs.mkdtempSync(path.join(project, 'run-'));
      const file = path.join(cwd, `readme-${b.line}.mts`);
      fs.writeFileSync(file, b.code);
      const r = spawnSync(process.execPath, ['--import', tsx, file], { cwd, encoding: 'utf8', env: { ...process.env, BETANMF_DEVICE: '' } });
      assert.equal(r.status, 0, `README.md:${b.line} failed:\n${r.stderr}`);
      // What the blocks print must be true, not just run: costs go down.
      const before = /^before (\S+)$/m.exec(r.stdout), after = /^after (\S+)$/m.exec(r.stdout);
      if (b.code.includes("console.log('before'")) assert.ok(before && after, r.stdout);
      if (b.code.includes('onEpoch')) assert.match(r.stdout, /^\d+ \S+ \S+$/m);
      if (before && after) assert.ok(Number(after[1]) < 0.5 * Number(before[1]), r.stdout);
      const epochCosts = [...r.stdout.matchAll(/^(\d+) (\S+) (\S+)$/gm)].map((m) => Number(m[2]));
      if (epochCosts.length > 1) {
        assert.ok(epochCosts.every(Number.isFinite), r.stdout);
        assert.ok(epochCosts[epochCosts.length - 1] < epochCosts[0], `the cost did not go down:\n${r.stdout}`);
      }
    });
  }

  for (const b of blocks.filter((x) => x.lang === 'sh')) {
    const commands = shCommands(b.code);
    const skipped = commands.filter((c) => !c.startsWith('npx betanmf'));
    it(`sh block at README.md:${b.line}: ${commands.length - skipped.length} betanmf commands run in order` +
      (skipped.length ? ` (not run here: ${skipped.join(', ')} — .ci/run runs them)` : ''), () => {
      const cwd = fs.mkdtempSync(path.join(project, 'sh-'));
      for (const c of commands.filter((x) => x.startsWith('npx betanmf'))) {
        assert.doesNotMatch(c, /['"$`|;<>]/, `README.md:${b.line}: keep CLI lines to plain words: ${c}`);
        const args = c.split(/\s+/).slice(2);
        const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, BETANMF_DEVICE: '' } });
        assert.equal(r.status, 0, `README.md:${b.line}: \`${c}\` failed:\n${r.stderr}`);
        assert.doesNotMatch(r.stderr, /^betanmf: /m, c);
        if (args.includes('--json')) JSON.parse(r.stdout.trim().split('\n').pop()!);
      }
    });
  }
});
