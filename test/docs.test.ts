// Every code block in README.md and docs/*.md runs as written, so the docs cannot drift: ts blocks
// are type-checked as a consumer would (strict, module nodenext, `import … from 'betanmf'`
// resolving to this package's dist/) and run as ES modules; js blocks run as CommonJS; sh blocks
// run their `npx betanmf` commands in order in a fresh folder. What does not run says so, with a
// reason, where the reader sees it:
// - a ts block whose first line says it needs a CUDA device runs only where there is one; one that
//   says it needs Redis runs against this machine's only;
// - in sh blocks, `npm ci` and `npm test` (the README's two commands) are not run here: .ci/run
//   runs them;
// - any other block is preceded by `<!-- not run: reason -->` (a directory tree, an example for
//   several machines, a six-minute benchmark); a block with neither a language this test runs nor
//   that marker fails.
// Nothing that runs may reach another machine: the docs name no address but 127.0.0.1.
// The generated sections (options table, export list) must equal what scripts/gen-docs.js makes
// from the TSDoc, and relative links between the pages must point at files that exist.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { devices } from '../lib';
import { findRedis, isLocalRedis, redisRequired, type LocalRedis } from './support/redis';

const root = path.join(__dirname, '..');
const bin = path.join(root, 'bin', 'betanmf.js');
const tsx = require.resolve('tsx');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const genDocs = require('../scripts/gen-docs.js') as { generate(): Map<string, string> };

export interface Block {
  /** The page, relative to the repository (README.md, docs/cli.md). */
  page: string;
  /** The fence's language ('' for none). */
  lang: string;
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  /** The reason of a `<!-- not run: … -->` marker on the line before the fence (blank lines allowed). */
  notRun?: string;
}

/** A page's fenced blocks (indented ones inside list items too, their indent removed). */
export function docBlocks(page: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const [indent, lang] = [open[1], open[2]];
    let before = i - 1;
    while (before >= 0 && lines[before].trim() === '') before--;
    const notRun = before >= 0 ? /^\s*<!-- not run: (.+?) -->\s*$/.exec(lines[before])?.[1] : undefined;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) body.push(lines[i].startsWith(indent) ? lines[i].slice(indent.length) : lines[i]);
    blocks.push({ page, lang, line: start + 1, code: body.join('\n') + '\n', notRun });
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

/** Commands of the README's first block that CI runs itself (.ci/run), not this test. */
const CI_COMMANDS = ['npm ci', 'npm test'];

const pages = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const texts = new Map(pages.map((p) => [p, fs.readFileSync(path.join(root, p), 'utf8')]));
const blocks = pages.flatMap((p) => docBlocks(p, texts.get(p)!));
const runs = (b: Block) => !b.notRun && ['ts', 'js', 'sh'].includes(b.lang);
const where = (b: Block) => `${b.page}:${b.line}`;
/** A file name for a block: docs/cli.md:12 → docs-cli-12. */
const fileName = (b: Block) => `${b.page.replace(/\.md$/, '').replace(/\W/g, '-')}-${b.line}`;
const cudaAvailable = devices().some((d) => d.kind === 'cuda' && d.available);

describe('docs: README.md and docs/*.md', function () {
  this.timeout(300000);
  let project: string;
  let redis: LocalRedis | undefined;
  /** The children's environment: no device override, and REDIS_URL only ever this machine's Redis. */
  const env = () => {
    const e: NodeJS.ProcessEnv = { ...process.env, BETANMF_DEVICE: '' };
    delete e.REDIS_URL;
    if (redis) e.REDIS_URL = redis.url;
    return e;
  };
  /** A run that hangs fails instead of holding the suite (spawnSync blocks mocha's own timeout). */
  const RUN_TIMEOUT_MS = 120000;

  after(() => redis?.stop());

  before(() => {
    // A consumer project whose node_modules/betanmf is this package (as `npm install` would lay it out).
    project = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-docs-'));
    fs.mkdirSync(path.join(project, 'node_modules'));
    fs.symlinkSync(root, path.join(project, 'node_modules', 'betanmf'), 'dir');
    fs.writeFileSync(path.join(project, 'package.json'), '{ "name": "docs-consumer", "private": true }\n');
  });

  it('README.md stays a front door (at most 150 lines) and links every page of docs/', () => {
    const readme = texts.get('README.md')!;
    assert.ok(readme.split('\n').length <= 150, `README.md has ${readme.split('\n').length} lines; move detail into docs/`);
    for (const p of pages.filter((x) => x.startsWith('docs/'))) assert.ok(readme.includes(`](${p})`), `README.md does not link ${p}`);
  });

  it('relative links between the pages point at files and headings that exist', () => {
    /** A page's heading anchors, as GitHub spells them (lower case, punctuation dropped, spaces as -). */
    const anchors = (text: string) => new Set([...text.matchAll(/^#+ (.+)$/gm)]
      .map((h) => h[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-')));
    for (const [page, text] of texts) {
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(m[1])) continue; // a URL
        const [target, anchor] = m[1].split('#');
        const file = target ? path.join(path.dirname(page), target) : page;
        assert.ok(fs.existsSync(path.join(root, file)), `${page}: a link to ${m[1]}, which does not exist`);
        if (anchor && file.endsWith('.md')) {
          assert.ok(anchors(fs.readFileSync(path.join(root, file), 'utf8')).has(anchor), `${page}: a link to ${m[1]}: no such heading in ${file}`);
        }
      }
    }
  });

  it('the generated sections (options table, export list) are what scripts/gen-docs.js makes from the TSDoc', () => {
    for (const [file, text] of genDocs.generate()) {
      assert.ok(fs.readFileSync(file, 'utf8') === text, `${path.relative(root, file)} differs from the TSDoc: run node scripts/gen-docs.js --write`);
    }
  });

  it('names no machine but this one in anything that runs, and no IP address but 127.0.0.1 anywhere', () => {
    for (const [page, text] of texts) {
      for (const m of text.matchAll(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g)) {
        assert.equal(m[0], '127.0.0.1', `${page}:${text.slice(0, m.index).split('\n').length}: an address (${m[0]}); write a host name such as queue-host`);
      }
    }
    for (const b of blocks.filter(runs)) {
      for (const m of b.code.matchAll(/\b(?:rediss?|https?|amqp|nats|postgres(?:ql)?):\/\/[^\s'"`)]+/g)) {
        if (m[0].startsWith('http') && !/redis|:\d+/.test(m[0])) continue; // a link, not a service this block talks to
        assert.ok(isLocalRedis(m[0].replace(/^\w+:/, 'redis:')), `${where(b)}: a \`${b.lang}\` block (run by this test) reaches ${m[0]}; ` +
          'use 127.0.0.1, or mark a several-machine example <!-- not run: … -->');
      }
    }
  });

  it('every block runs here or says why not, and the README keeps its examples', () => {
    for (const b of blocks) {
      assert.ok(runs(b) || b.notRun, `${where(b)}: a block${b.lang ? ` in \`${b.lang}\`` : ' without a language'} that this test does not run; ` +
        'write it as ts, js or sh, or put <!-- not run: reason --> on the line before it');
    }
    const readme = blocks.filter((b) => b.page === 'README.md' && runs(b));
    assert.ok(readme.some((b) => b.lang === 'ts'), 'README.md: an API example');
    assert.ok(readme.filter((b) => b.lang === 'sh').length >= 2, 'README.md: the install-and-demo block and a CLI example');
    assert.ok(blocks.filter((b) => b.lang === 'ts' && runs(b)).length >= 8);
  });

  for (const b of blocks.filter((x) => x.notRun)) {
    it(`${where(b)} is not run: ${b.notRun}`, function () {
      this.skip();
    });
  }

  it('the ts blocks type-check under strict, module nodenext, against the package\'s types', () => {
    const dir = path.join(project, 'typecheck');
    fs.mkdirSync(dir);
    blocks.filter((b) => b.lang === 'ts' && runs(b)).forEach((b) => fs.writeFileSync(path.join(dir, `${fileName(b)}.mts`), b.code));
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true,
        skipLibCheck: false, types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')] },
      include: ['*.mts'],
    }));
    const r = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
    const named = new Map(blocks.map((b) => [`${fileName(b)}.mts`, where(b)]));
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`.replace(/[\w-]+\.mts/g, (f) => `the block at ${named.get(f) ?? f}`));
  });

  for (const b of blocks.filter((x) => (x.lang === 'ts' || x.lang === 'js') && runs(x))) {
    const first = b.code.split('\n')[0];
    const needsCuda = /needs a CUDA device/.test(first);
    const needsRedis = /needs Redis/.test(first);
    it(`${b.lang} block at ${where(b)} runs${needsCuda ? ' (needs a CUDA device)' : ''}${needsRedis ? ' (against this machine\'s Redis)' : ''}`, async function () {
      if (needsCuda && !cudaAvailable) {
        console.log(`      (skipped: ${where(b)} needs a CUDA device; none here)`);
        this.skip();
      }
      if (needsRedis) {
        redis ??= await findRedis();
        if (!redis) {
          if (redisRequired()) throw new Error(`${where(b)} needs Redis: none at 127.0.0.1:6379 and no redis-server to start`);
          console.log(`      (skipped: ${where(b)} needs Redis; none at 127.0.0.1:6379 and no redis-server binary)`);
          this.skip();
        }
      }
      const cwd = fs.mkdtempSync(path.join(project, 'run-'));
      const file = path.join(cwd, `${fileName(b)}.${b.lang === 'ts' ? 'mts' : 'cjs'}`);
      fs.writeFileSync(file, b.code);
      const args = b.lang === 'ts' ? ['--import', tsx, file] : [file];
      const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: env(), timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' });
      assert.equal(r.signal, null, `${where(b)} did not finish within ${RUN_TIMEOUT_MS / 1000} s:\n${r.stdout}${r.stderr}`);
      assert.equal(r.status, 0, `${where(b)} failed:\n${r.stderr}`);
      // What the blocks print must be true, not just run: costs go down.
      const before = /^before (\S+)$/m.exec(r.stdout), after = /^after (\S+)$/m.exec(r.stdout);
      if (b.code.includes("console.log('before'")) assert.ok(before && after, r.stdout);
      if (b.code.includes('onEpoch') && b.code.includes('console.log(epoch')) assert.match(r.stdout, /^\d+ \S+ \S+$/m);
      if (before && after) assert.ok(Number(after[1]) < 0.5 * Number(before[1]), r.stdout);
      const epochCosts = [...r.stdout.matchAll(/^(\d+) (\S+) (\S+)$/gm)].map((m) => Number(m[2]));
      if (epochCosts.length > 1) {
        assert.ok(epochCosts.every(Number.isFinite), r.stdout);
        assert.ok(epochCosts[epochCosts.length - 1] < epochCosts[0], `the cost did not go down:\n${r.stdout}`);
      }
    });
  }

  for (const b of blocks.filter((x) => x.lang === 'sh' && runs(x))) {
    const commands = shCommands(b.code);
    const skipped = commands.filter((c) => CI_COMMANDS.includes(c));
    it(`sh block at ${where(b)}: ${commands.length - skipped.length} betanmf commands run in order` +
      (skipped.length ? ` (not run here: ${skipped.join(', ')} — .ci/run runs them)` : ''), () => {
      const cwd = fs.mkdtempSync(path.join(project, 'sh-'));
      for (const c of commands.filter((x) => !CI_COMMANDS.includes(x))) {
        assert.match(c, /^npx betanmf /, `${where(b)}: \`${c}\` is not a betanmf command; mark the block <!-- not run: reason --> if it cannot run here`);
        assert.doesNotMatch(c, /['"$`|;<>]/, `${where(b)}: keep CLI lines to plain words: ${c}`);
        const args = c.split(/\s+/).slice(2);
        const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: env(), timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' });
        assert.equal(r.signal, null, `${where(b)}: \`${c}\` did not finish within ${RUN_TIMEOUT_MS / 1000} s`);
        assert.equal(r.status, 0, `${where(b)}: \`${c}\` failed:\n${r.stderr}`);
        assert.doesNotMatch(r.stderr, /^betanmf: /m, c);
        if (args.includes('--json')) JSON.parse(r.stdout.trim().split('\n').pop()!);
      }
    });
  }
});
