// The package as users load it: require and import by name (built dist/), the seed subpath.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as b from '../lib';
import * as seed from '../lib/seed';

const root = path.join(__dirname, '..');
const OPTIONAL_PACKAGES = ['bullmq', 'ioredis', '@resvg/resvg-js'];

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
}

describe('package entry points', () => {
  it("require('betanmf') and require('betanmf/seed') work", () => {
    const out = node(['-e', `
      const b = require('betanmf'); const s = require('betanmf/seed');
      const X = b.matrix([[1, 2], [3, 4]]), W = b.matrix([[1], [1]]), H = b.matrix([[1], [2]]);
      console.log(JSON.stringify([b.gradientH(X, W, H, 2).toArray(), s.gradient_h(X, W, H, 2).toArray()]));`]);
    // X·W − V·W with V = H·Wᵀ: [3 − 2, 7 − 4].
    assert.deepEqual(JSON.parse(out), [[[1], [3]], [[1], [3]]]);
  });

  it("import { … } from 'betanmf' and 'betanmf/seed' work (named and default imports)", () => {
    const out = node(['--input-type=module', '-e', `
      import { matrix, betaDivergence } from 'betanmf';
      import betanmf from 'betanmf';
      import { beta_div } from 'betanmf/seed';
      const X = matrix([[1, 2]]), W = matrix([[1], [1]]), H = matrix([[1]]);
      console.log(JSON.stringify([betaDivergence(X, W, H, 2), beta_div(X, W, H, 2), typeof betanmf.gradientW]));`]);
    assert.deepEqual(JSON.parse(out), [0.5, 0.5, 'function']);
  });

  it('the library and the CLI load BullMQ and ioredis only for the queue (betanmf/queue, the queue commands)', () => {
    const loaded = (code: string) => JSON.parse(node(['-e', `${code}
      console.log(JSON.stringify(Object.keys(require.cache).filter((f) => /node_modules[\\/](bullmq|ioredis)[\\/]/.test(f)).length))`]));
    assert.equal(loaded("require('betanmf'); require('betanmf/seed');"), 0);
    assert.equal(loaded("require('./dist/cli/main.js').program();"), 0);
    assert.ok(loaded("require('betanmf/queue');") > 0);
  });

  describe('without the optional packages (hidden from the loader by a preload hook)', function () {
    this.timeout(120000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-hide-'));
    const hook = path.join(dir, 'hide.js');
    // Resolving a hidden package fails as it does when the package is not installed.
    fs.writeFileSync(hook, `
      const Module = require('node:module');
      const hidden = new Set(process.env.BETANMF_HIDE.split(','));
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        const name = request.split('/').slice(0, request.startsWith('@') ? 2 : 1).join('/');
        if (hidden.has(name)) throw Object.assign(new Error(\`Cannot find module '\${request}'\`), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };`);
    const run = (hide: string[], args: string[]) => {
      const r = spawnSync(process.execPath, ['-r', hook, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, BETANMF_HIDE: hide.join(',') } });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    const bin = path.join(root, 'bin', 'betanmf.js');
    const X = path.join(dir, 'X.npy');
    before(() => b.writeNpySync(X, b.syntheticSpectrogram(60, 12, { seed: 1 })));

    it("require('betanmf/queue') throws one line naming the package to install", () => {
      for (const hide of [['bullmq'], ['ioredis'], ['bullmq', 'ioredis']]) {
        const r = run(hide, ['-e', `try { require(${JSON.stringify(path.join(root, 'dist', 'queue', 'index.js'))}); console.log('loaded'); }
          catch (e) { console.log(JSON.stringify([e.name, e.message])); }`]);
        const [name, message] = JSON.parse(r.out);
        assert.equal(name, 'MissingPackageError');
        assert.equal(message, `betanmf/queue needs ${hide.join(' and ')}, which ${hide.length > 1 ? 'are' : 'is'} not installed: npm install ${hide.join(' ')}`);
      }
    });

    it('worker, submit, jobs and cancel fail with one line naming the package; the other commands work', () => {
      for (const args of [['worker'], ['submit', 'fit', X, '-k', '2', '--out', path.join(dir, 'q')], ['jobs'], ['cancel', '7']]) {
        const r = run(['bullmq'], [bin, ...args]);
        assert.equal(r.code, 1, r.err);
        assert.equal(r.err, 'betanmf: the queue (betanmf worker, submit, jobs, cancel) needs bullmq, which is not installed: npm install bullmq\n');
      }
      const fit = run(OPTIONAL_PACKAGES, [bin, 'fit', X, '-k', '2', '--max-iter', '3', '--out', path.join(dir, 'fit'), '--plot', path.join(dir, 'cost.svg'), '--no-progress']);
      assert.equal(fit.code, 0, fit.err);
      assert.ok(fs.existsSync(path.join(dir, 'cost.svg')));
    });

    it('fit --plot x.png and plot -o x.png fail before any work with one line naming the renderer', () => {
      const line = 'betanmf: a .png chart needs @resvg/resvg-js, which is not installed: npm install @resvg/resvg-js\n';
      const out = path.join(dir, 'fit-png');
      const fit = run(['@resvg/resvg-js'], [bin, 'fit', X, '-k', '2', '--max-iter', '3', '--out', out, '--plot', path.join(dir, 'cost.png'), '--no-progress']);
      assert.deepEqual([fit.code, fit.err], [1, line]);
      assert.ok(!fs.existsSync(out), 'the fit ran');
      const plot = run(['@resvg/resvg-js'], [bin, 'plot', path.join(dir, 'fit', 'history.json'), '-o', path.join(dir, 'p.png')]);
      assert.deepEqual([plot.code, plot.err], [1, line]);
    });
  });

  it('nativeConfig says how the core runs; setNumThreads changes it and keeps results', () => {
    const c = b.nativeConfig();
    assert.ok(c.numThreads >= 1);
    assert.match(c.openblasConfig, /OpenBLAS/);
    const X = b.matrix(new Float64Array(200 * 80).map((_, i) => 1 + (i % 7)), 200, 80);
    const W = b.matrix(new Float64Array(80 * 6).map((_, i) => 0.5 + (i % 3)), 80, 6);
    const H = b.matrix(new Float64Array(200 * 6).map((_, i) => 0.2 + (i % 5)), 200, 6);
    const before = b.gradientWMu(X, W, H, 0.5);
    try {
      assert.equal(b.setNumThreads(1), 1);
      const one = b.gradientWMu(X, W, H, 0.5);
      assert.deepEqual(one.pos.data, before.pos.data);
      assert.deepEqual(one.neg.data, before.neg.data);
    } finally {
      b.setNumThreads(0);
    }
    assert.equal(b.nativeConfig().numThreads, c.numThreads);
    assert.throws(() => b.setNumThreads(-1), RangeError);
  });
});

describe('betanmf/seed: the seed names over the same kernels', () => {
  const X = b.matrix([[1, 2, 3], [4, 5, 0]]);
  const W = b.matrix([[1, 0.5], [0.2, 1], [0.3, 0.3]]);
  const H = b.matrix([[1, 1], [0.5, 2]]);

  for (const beta of [0, 1, 1.5, 2]) {
    it(`gradient_h, gradient_h_mu, gradient_w, gradient_w_mu, mu_update_h, mu_update, update_grad_w, beta_div (β = ${beta})`, () => {
      assert.deepEqual(seed.gradient_h(X, W, H, beta).data, b.gradientH(X, W, H, beta).data);
      assert.deepEqual(seed.gradient_w(X, W, H, beta).data, b.gradientW(X, W, H, beta).data);
      const [hp, hn] = seed.gradient_h_mu(X, W, H, beta);
      const hParts = b.gradientHMu(X, W, H, beta);
      assert.deepEqual([hp.data, hn.data], [hParts.pos.data, hParts.neg.data]);
      const [wp, wn] = seed.gradient_w_mu(X, W, H, beta);
      const wParts = b.gradientWMu(X, W, H, beta);
      assert.deepEqual([wp.data, wn.data], [wParts.pos.data, wParts.neg.data]);
      const [H1, [p1, n1]] = seed.mu_update_h(X, W, H, beta);
      // The seed's H *= neg/pos (eps 0).
      H.data.forEach((h, i) => assert.ok(Math.abs(H1.data[i] - (h * n1.data[i]) / p1.data[i]) < 1e-12));
      assert.deepEqual(seed.mu_update(H, p1, n1).data, H1.data);
      const s = seed.update_grad_w([wp, wn], [wn, wp], [wp, wp]);
      wp.data.forEach((v, i) => assert.ok(Math.abs(s[0].data[i] - (v - wn.data[i] + v)) < 1e-12));
      assert.equal(seed.beta_div(X, W, H, beta), b.betaDivergence(X, W, H, beta));
    });
  }
});

describe('one portable binary', function () {
  this.timeout(600000);

  it('needs no shared OpenBLAS, CUDA runtime or cuBLAS library to load', () => {
    const binary = path.join(root, 'build', 'Release', 'betanmf.node');
    const deps = execFileSync('ldd', [binary], { encoding: 'utf8' });
    assert.doesNotMatch(deps, /openblas|libblas|cudart|cublas|libcuda\.so/);
    // And it loads with no library path at all.
    const out = execFileSync(process.execPath, ['-e', `console.log(typeof require(${JSON.stringify(binary)}).hParts)`],
      { encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.equal(out.trim(), 'function');
  });

  it('npm pack ships the compiled JS, the CLI, the native sources and the prebuilds folder', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    const files: string[] = JSON.parse(out)[0].files.map((f: { path: string }) => f.path);
    for (const f of ['dist/index.js', 'dist/seed.js', 'dist/io.js', 'dist/persist.js', 'dist/cli/main.js', 'bin/betanmf.js', 'native/core/beta.h',
      'native/cuda/cuda_backend.cu', 'CMakeLists.txt', 'scripts/install.js', 'scripts/prepack.js', 'prebuilds/README.md']) {
      assert.ok(files.includes(f), `${f} missing from the package`);
    }
    assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('build/') || f.startsWith('build-')), 'tests or build outputs in the package');
  });

  it('declares its platform, keeps build tools out of the runtime dependencies, and names one N-API version', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    assert.deepEqual([pkg.os, pkg.cpu], [['linux'], ['x64']]);
    for (const tool of ['cmake-js', 'node-addon-api', 'node-api-headers', 'node-gyp-build']) {
      assert.ok(!(tool in pkg.dependencies), `${tool} is a build tool, not a runtime dependency`);
    }
    for (const tool of ['cmake-js', 'node-addon-api', 'node-api-headers']) assert.equal(pkg.peerDependenciesMeta[tool]?.optional, true, tool);
    // Every runtime dependency is loaded by the library or the CLI; the queue's packages and the PNG
    // renderer are optional peers (and dev dependencies, for the tests), loaded only by their feature.
    const sources = ['lib', 'lib/cli', 'lib/queue'].flatMap((d) => fs.readdirSync(path.join(root, d)).filter((f) => f.endsWith('.ts')).map((f) => fs.readFileSync(path.join(root, d, f), 'utf8'))).join('\n');
    for (const dep of Object.keys(pkg.dependencies)) assert.ok(sources.includes(`from '${dep}'`), `${dep} is not used at run time`);
    for (const dep of OPTIONAL_PACKAGES) {
      assert.ok(!(dep in pkg.dependencies), `${dep} is a dependency; expected an optional peer`);
      assert.equal(pkg.peerDependenciesMeta[dep]?.optional, true, dep);
      assert.ok(dep in pkg.devDependencies, `${dep} missing from devDependencies (the tests use it)`);
    }
    assert.equal(pkg.binary.napi_versions.length, 1);
    assert.match(fs.readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8'), /string\(JSON BETANMF_NAPI_VERSION GET \$\{BETANMF_PACKAGE_JSON\} binary napi_versions 0\)/);
    assert.doesNotMatch(fs.readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8'), /NAPI_VERSION=\d/);
  });

  it('the README states the glibc the prebuilt binary needs (its newest GLIBC_ symbol version)', function () {
    const prebuild = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'node.napi.node');
    const { GLIBC_BASELINE } = require('../lib/native') as typeof import('../lib/native');
    assert.match(fs.readFileSync(path.join(root, 'README.md'), 'utf8'), new RegExp(`glibc ≥ ${GLIBC_BASELINE.replace('.', '\\.')}\\b`));
    if (!fs.existsSync(prebuild)) this.skip(); // made by `npm run prebuilds` (CI runs it)
    const versions = execFileSync('objdump', ['-T', prebuild], { encoding: 'utf8' }).match(/GLIBC_[0-9.]+/g)!.map((v) => v.slice(6));
    const newest = versions.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).pop()!;
    assert.equal(newest, GLIBC_BASELINE, `the prebuild needs glibc ${newest}; update GLIBC_BASELINE in lib/native.ts and the README`);
  });

  it('the loader says which binary failed to load and why, with the platform facts', () => {
    const bad = path.join(os.tmpdir(), `betanmf-broken-${process.pid}.node`);
    fs.writeFileSync(bad, 'not an ELF file');
    for (const [file, why] of [[bad, /present but does not load \(.*file too short/], [path.join(os.tmpdir(), 'betanmf-nothing.node'), /: missing/]] as const) {
      const r = spawnSync(process.execPath, [path.join(root, 'bin', 'betanmf.js'), 'inspect'], { encoding: 'utf8', env: { ...process.env, BETANMF_NATIVE: file } });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^betanmf: no native addon loads on linux-x64, node [\d.]+ \(N-API \d+\), glibc [\d.]+, .*\(sse4_2 (yes|no), avx2 (yes|no)/);
      assert.match(r.stderr, why);
      assert.match(r.stderr, /npm install cmake-js node-addon-api node-api-headers/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    fs.rmSync(bad);
  });

  // Installs the packed tarball into a fresh folder with --ignore-scripts and no compiler on
  // PATH (npm fetches the runtime dependencies), then runs the demo from it. CI runs it after
  // `npm run prebuilds`; elsewhere set BETANMF_PACK_TEST=1.
  it('installs from the tarball without a compiler or install scripts and runs the demo', function () {
    if (!process.env.BETANMF_PACK_TEST) this.skip();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-pack-'));
    // A PATH with everything in /usr/bin and /bin except compilers and build tools.
    const noCompiler = path.join(tmp, 'bin');
    fs.mkdirSync(noCompiler);
    const tools = /^(cmake|ctest|cpack|make|gmake|ninja|g\+\+|c\+\+|gcc|cc|c89|c99|clang|clang\+\+|nvcc|ld|x86_64-linux-gnu-.*)(-[\d.]+)?$/;
    for (const dir of [path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin']) {
      if (!fs.existsSync(dir)) continue;
      for (const name of fs.readdirSync(dir)) {
        if (tools.test(name) || fs.existsSync(path.join(noCompiler, name))) continue;
        fs.symlinkSync(path.join(dir, name), path.join(noCompiler, name));
      }
    }
    const env = { HOME: process.env.HOME ?? tmp, PATH: noCompiler, npm_config_cache: process.env.npm_config_cache ?? path.join(os.homedir(), '.npm') };
    for (const tool of ['cmake', 'g++', 'c++', 'gcc', 'cc']) {
      assert.notEqual(spawnSync('sh', ['-c', `command -v ${tool}`], { env }).status, 0, `${tool} is still on PATH`);
    }
    // npm pack runs prepack (ships the prebuild, rebuilding it only when the native sources are newer).
    const tgz = execFileSync('npm', ['pack', '--pack-destination', tmp], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop()!;
    const listing = execFileSync('tar', ['-tzf', path.join(tmp, tgz)], { encoding: 'utf8' });
    assert.match(listing, new RegExp(`package/prebuilds/${process.platform}-${process.arch}/node\\.napi\\.node`));
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), '{"name":"consumer","version":"1.0.0","private":true}');
    execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', path.join(tmp, tgz)], { cwd: app, stdio: 'pipe', env });
    const installed = path.join(app, 'node_modules', 'betanmf');
    for (const tool of ['cmake-js', 'node-addon-api', 'node-api-headers']) assert.ok(!fs.existsSync(path.join(app, 'node_modules', tool)), `${tool} was installed`);

    // The demo, as the README's first command runs it.
    const demo = spawnSync(path.join(app, 'node_modules', '.bin', 'betanmf'), ['demo'], { cwd: app, encoding: 'utf8', env });
    assert.equal(demo.status, 0, demo.stderr);
    assert.match(demo.stdout, new RegExp(`cost\\.svg in ${path.join(app, 'betanmf-demo').replace(/[/\\.]/g, '.')}`));
    assert.ok(fs.existsSync(path.join(app, 'betanmf-demo', 'W.npy')));
    // require and ESM named imports, with the prebuilt binary.
    const cjs = execFileSync(process.execPath, ['-e', `
      const b = require('betanmf');
      const X = b.matrix([[1, 2], [3, 4]]), W = b.matrix([[1], [1]]), H = b.matrix([[1], [2]]);
      console.log(JSON.stringify({ g: b.gradientH(X, W, H, 2).toArray(), cuda: b.nativeConfig().cudaCompiled }));`], { cwd: app, encoding: 'utf8', env });
    assert.deepEqual(JSON.parse(cjs), { g: [[1], [3]], cuda: true });
    const esm = execFileSync(process.execPath, ['--input-type=module', '-e', `
      import { BetaNMF, readNpy } from 'betanmf';
      import { beta_div } from 'betanmf/seed';
      const X = await readNpy('betanmf-demo/X.npy');
      const m = await new BetaNMF({ nComponents: 4, maxIter: 3, seed: 1 }).fit(X);
      console.log(typeof beta_div, m.W.shape.join('x'));`], { cwd: app, encoding: 'utf8', env });
    assert.equal(esm.trim(), 'function 257x4');
    // The queue's packages and the PNG renderer are optional: not installed, and betanmf/queue says so in one line.
    for (const dep of OPTIONAL_PACKAGES) assert.ok(!fs.existsSync(path.join(app, 'node_modules', dep)), `${dep} was installed`);
    const queue = spawnSync(process.execPath, ['-e', "require('betanmf/queue')"], { cwd: app, encoding: 'utf8', env });
    assert.notEqual(queue.status, 0);
    assert.match(queue.stderr, /MissingPackageError: betanmf\/queue needs bullmq and ioredis, which are not installed: npm install bullmq ioredis\n/);
    assert.ok(!fs.existsSync(path.join(installed, 'build')), 'nothing was built');

    // With scripts: the install hook finds the prebuild and builds nothing, still without a compiler.
    const rebuild = spawnSync('npm', ['rebuild', 'betanmf', '--foreground-scripts'], { cwd: app, encoding: 'utf8', env });
    assert.equal(rebuild.status, 0, rebuild.stderr);
    assert.ok(!fs.existsSync(path.join(installed, 'build')), 'the install script built from source instead of using the prebuild');

    // A broken source build is reported and passed over for the prebuild.
    fs.mkdirSync(path.join(installed, 'build', 'Release'), { recursive: true });
    fs.writeFileSync(path.join(installed, 'build', 'Release', 'betanmf.node'), 'broken');
    const fallback = spawnSync(process.execPath, ['-e', "console.log(require('betanmf').nativeConfig().numThreads > 0)"], { cwd: app, encoding: 'utf8', env });
    assert.equal(fallback.stdout.trim(), 'true', fallback.stderr);
    assert.match(fallback.stderr, /betanmf: .*build\/Release\/betanmf\.node does not load here \(.*file too short.*glibc [\d.]+.*\); trying the next binary/);
    // With no binary at all, the source build says what to install.
    fs.rmSync(path.join(installed, 'prebuilds', `${process.platform}-${process.arch}`), { recursive: true });
    fs.rmSync(path.join(installed, 'build'), { recursive: true });
    const none = spawnSync('npm', ['rebuild', 'betanmf', '--foreground-scripts'], { cwd: app, encoding: 'utf8', env });
    assert.notEqual(none.status, 0);
    assert.match(none.stdout + none.stderr, /betanmf: building the native addon from source needs the build tools: `npm install --save-dev cmake-js node-addon-api node-api-headers`/);
    const inspect = spawnSync(path.join(app, 'node_modules', '.bin', 'betanmf'), ['inspect'], { cwd: app, encoding: 'utf8', env });
    assert.equal(inspect.status, 1);
    assert.match(inspect.stderr, /^betanmf: no native addon loads on [^\n]+\n {2}\S+build\/Release\/betanmf\.node: missing\n {2}\S+node\.napi\.node: missing\n/);
  });
});

describe('TypeScript consumers', function () {
  this.timeout(300000);
  const consumer = `
    import { BetaNMF, matrix, readNpy, writeNpy, readCsv, syntheticSpectrogram, type Matrix, type SavedModel, type BetaNMFOptions } from 'betanmf';
    import { gradient_h, beta_div } from 'betanmf/seed';
    const options: BetaNMFOptions = { nComponents: 3, beta: 'kullback-leibler', maxIter: 2, seed: 1 };
    export async function run(): Promise<number> {
      const X: Matrix = syntheticSpectrogram(50, 16);
      await writeNpy('x.npy', X);
      const Y = await readNpy('x.npy');
      const model = await new BetaNMF(options).fit(Y);
      const saved: SavedModel = model.toJSON();
      const W = model.W!, H = model.H!;
      const g: Matrix = gradient_h(Y, W, H, 1);
      void readCsv; void saved; void matrix;
      return beta_div(Y, W, H, 1) + g.rows;
    }
  `;
  it('a fitted model is typed for a strict consumer (lib es2022, skipLibCheck false, @types/node): W, H, cost, reconstructionError, nIter, stopReason', function () {
    if (!fs.existsSync(path.join(root, 'dist', 'index.d.ts'))) this.skip(); // built by `npm test` (tsc) first
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-ts-'));
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(root, path.join(dir, 'node_modules', 'betanmf'), 'dir');
    fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "ts-consumer", "private": true }\n');
    fs.writeFileSync(path.join(dir, 'fitted.ts'), `
      import { BetaNMF, syntheticSpectrogram, type Matrix } from 'betanmf';
      export async function run(): Promise<string> {
        const X = syntheticSpectrogram(40, 8, { seed: 1 });
        const m = new BetaNMF({ nComponents: 2, maxIter: 4, seed: 1 });
        const f = await m.fit(X);
        const W: Matrix = f.W, H: Matrix = f.H;
        const cost: number = f.cost, nIter: number = f.nIter;
        const why: string = f.stopReason;
        return [f.reconstructionError.toFixed(), nIter, W.rows, H.rows, cost > 0, why].join(' ');
      }
    `);
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, target: 'es2022', lib: ['es2022'], module: 'commonjs', moduleResolution: 'node10', ignoreDeprecations: '6.0',
        outDir: 'out', skipLibCheck: false, types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')] },
      files: ['fitted.ts'],
    }));
    const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const value = execFileSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(dir, 'out', 'fitted.js'))}).run().then((v) => console.log(v))`],
      { cwd: dir, encoding: 'utf8' });
    assert.match(value.trim(), /^\d+ 4 8 40 true maxIter$/);
  });

  const cases: [string, Record<string, unknown>, string, string][] = [
    ['module nodenext (ESM, .mts)', { module: 'nodenext', moduleResolution: 'nodenext' }, 'consumer.mts', 'consumer.mjs'],
    ['module nodenext (CommonJS, .cts)', { module: 'nodenext', moduleResolution: 'nodenext' }, 'consumer.cts', 'consumer.cjs'],
    ['module commonjs', { module: 'commonjs', moduleResolution: 'node10', ignoreDeprecations: '6.0' }, 'consumer.ts', 'consumer.js'],
  ];
  for (const [name, options, file, emitted] of cases) {
    it(`the package's types check under strict with ${name}, and the compiled code runs`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-ts-'));
      fs.mkdirSync(path.join(dir, 'node_modules'));
      fs.symlinkSync(root, path.join(dir, 'node_modules', 'betanmf'), 'dir');
      fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "ts-consumer", "private": true }\n');
      fs.writeFileSync(path.join(dir, file), consumer);
      fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { strict: true, target: 'es2022', outDir: 'out', skipLibCheck: false, types: ['node'],
          typeRoots: [path.join(root, 'node_modules', '@types')], ...options },
        files: [file],
      }));
      const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      const out = path.join(dir, 'out', emitted);
      const run = emitted.endsWith('.mjs') ? `import(${JSON.stringify(out)}).then((m) => m.run())` : `require(${JSON.stringify(out)}).run()`;
      const value = execFileSync(process.execPath, ['-e', `${run}.then((v) => console.log(v))`], { cwd: dir, encoding: 'utf8' });
      assert.ok(Number(value) > 50, value);
    });
  }
});
