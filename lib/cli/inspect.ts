// `betanmf inspect`: version, CUDA support, devices, OpenBLAS, threads, environment overrides;
// and which vector kernels run: OpenBLAS's core (and whether OPENBLAS_CORETYPE chose it), the
// CPU's ISA and the copy of our elementwise loops in use. `inspect` and `bench` print the
// latter, and warn when the environment holds an AVX-512 CPU to AVX2 (or older) kernels.
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import { devices, openblasWarning } from '../device';
import { addon, packageRoot, type CpuIsa, type IsaName, type NativeConfig } from '../native';

export function inspectCommand(cli: Command): void {
  cli
    .command('inspect')
    .description('version, CUDA support, devices, OpenBLAS configuration, threads, environment overrides')
    .option('--json', 'as JSON')
    .action((f: { json?: boolean }) => inspect(!!f.json));
}


export type KernelIsa = IsaName | 'older' | 'unknown';

export interface KernelReport {
  /** openblas_get_corename(): the kernel set OpenBLAS runs. */
  openblasCore: string;
  openblasIsa: KernelIsa;
  /** OPENBLAS_CORETYPE when set (it overrides OpenBLAS's own choice). */
  openblasCoretype: string | null;
  /** The best of baseline / avx2 (x86-64-v3) / avx512 (x86-64-v4) this CPU runs. */
  cpuIsa: IsaName;
  /** The copy of betanmf's elementwise loops in use. */
  loopsIsa: IsaName;
  /** BETANMF_CPU_ISA, when set. */
  loopsRequested: string | null;
  warnings: string[];
}

// OpenBLAS 0.3 core names (openblas_get_corename, lower-cased) by the vector ISA of their kernels.
const AVX512_CORES = new Set(['skylakex', 'cooperlake', 'sapphirerapids']);
const AVX2_CORES = new Set(['haswell', 'zen', 'skylake']);
const OLDER_CORES = new Set(['sandybridge', 'nehalem', 'prescott', 'core2', 'penryn', 'dunnington', 'atom', 'katmai',
  'coppermine', 'northwood', 'banias', 'barcelona', 'opteron', 'bulldozer', 'piledriver', 'steamroller', 'excavator']);

export function openblasIsa(core: string): KernelIsa {
  const c = core.toLowerCase();
  if (AVX512_CORES.has(c)) return 'avx512';
  if (AVX2_CORES.has(c)) return 'avx2';
  if (OLDER_CORES.has(c)) return 'older';
  return 'unknown';
}

const LABEL: Record<KernelIsa, string> = { avx512: 'AVX-512', avx2: 'AVX2', baseline: 'baseline x86-64', older: 'pre-AVX2', unknown: 'unknown ISA' };

/** The report for this process (the arguments are there for tests). */
export function kernelReport(env: NodeJS.ProcessEnv = process.env, c: Pick<NativeConfig, 'openblasCore'> = addon.config(),
  isa: CpuIsa = addon.cpuIsa()): KernelReport {
  const coretype = env.OPENBLAS_CORETYPE !== undefined && env.OPENBLAS_CORETYPE !== '' ? env.OPENBLAS_CORETYPE : null;
  const r: KernelReport = {
    openblasCore: c.openblasCore,
    openblasIsa: openblasIsa(c.openblasCore),
    openblasCoretype: coretype,
    cpuIsa: isa.cpu,
    loopsIsa: isa.loops,
    loopsRequested: isa.requested,
    warnings: [],
  };
  if (r.cpuIsa === 'avx512' && coretype !== null && (r.openblasIsa === 'avx2' || r.openblasIsa === 'older')) {
    r.warnings.push(`this CPU has AVX-512 but OpenBLAS runs its '${r.openblasCore}' (${LABEL[r.openblasIsa]}) kernels because ` +
      `OPENBLAS_CORETYPE=${coretype} is set; unset it (or set SkylakeX) for its AVX-512 kernels, unless it was set ` +
      'because this OpenBLAS misbehaved on this CPU');
  }
  if (isa.note) r.warnings.push(`${isa.note} (BETANMF_CPU_ISA=${isa.requested})`);
  else if (r.loopsIsa !== r.cpuIsa) {
    r.warnings.push(`the elementwise loops run their ${r.loopsIsa} copy because BETANMF_CPU_ISA=${isa.requested}; this CPU runs ${r.cpuIsa}`);
  }
  return r;
}

/** One line: "OpenBLAS Haswell (AVX2, OPENBLAS_CORETYPE=Haswell); CPU AVX-512; loops AVX-512". */
export function kernelLine(r: KernelReport): string {
  const chosen = r.openblasCoretype !== null ? `, OPENBLAS_CORETYPE=${r.openblasCoretype}` : ', chosen by OpenBLAS';
  const forced = r.loopsRequested !== null ? ` (BETANMF_CPU_ISA=${r.loopsRequested})` : '';
  return `kernels: OpenBLAS ${r.openblasCore} (${LABEL[r.openblasIsa]}${chosen}); CPU ${LABEL[r.cpuIsa]}; ` +
    `betanmf loops ${LABEL[r.loopsIsa]}${forced}`;
}

function inspect(json: boolean): void {
  const c = addon.config();
  const env = Object.fromEntries(
    ['BETANMF_DEVICE', 'BETANMF_NUM_THREADS', 'BETANMF_CUBLAS', 'BETANMF_CPU_ISA', 'OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE', 'OPENBLAS_NUM_THREADS']
      .filter((k) => process.env[k] !== undefined)
      .map((k) => [k, process.env[k]!]),
  );
  const info = {
    version: packageVersion(),
    node: process.versions.node,
    platform: `${process.platform}-${process.arch}`,
    cudaCompiled: c.cudaCompiled,
    devices: devices(),
    openblas: { config: c.openblasConfig, core: c.openblasCore, threadsPerCall: c.openblasThreads },
    threads: c.numThreads,
    cores: os.availableParallelism(),
    cpuFeatures: c.cpuFeatures,
    kernels: kernelReport(),
    environment: env,
    warnings: [openblasWarning()].filter((w): w is string => w !== undefined),
  };
  info.warnings.push(...info.kernels.warnings);
  if (json) {
    process.stdout.write(JSON.stringify(info, null, 1) + '\n');
    return;
  }
  const lines = [
    `betanmf ${info.version} (node ${info.node}, ${info.platform})`,
    `CUDA compiled in: ${info.cudaCompiled ? 'yes' : 'no'}`,
    'devices:',
    ...info.devices.map((d) => `  ${d.kind.padEnd(5)} ${d.available ? 'available' : 'unavailable'}${d.name ? `  ${d.name}` : ''}` +
      `${d.threads ? `, ${d.threads} threads` : ''}${d.reason ? `  (${d.reason})` : ''}`),
    `OpenBLAS: ${info.openblas.config}; kernel ${info.openblas.core}; ${info.openblas.threadsPerCall} thread inside each of our ${info.threads} threads`,
    kernelLine(info.kernels),
    `environment: ${Object.keys(env).length ? Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ') : '(no overrides)'}`,
    ...info.warnings.map((w) => `warning: ${w}`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

/** This package's version (package.json). */
export function packageVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(path.join(packageRoot, 'package.json')) as { version: string }).version;
}
