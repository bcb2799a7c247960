// Packages betanmf uses for one feature only (bullmq and ioredis for the queue, @resvg/resvg-js
// for PNG charts) are optional peer dependencies: an install for the kernels and the estimator
// does not fetch them. They load when their feature runs; without them it fails with one line
// naming what to install.

/** A feature's package is not installed; the message says which and how to install it. */
export class MissingPackageError extends Error {
  override name = 'MissingPackageError';
  readonly code = 'ERR_BETANMF_MISSING_PACKAGE';
  constructor(readonly packages: string[], feature: string) {
    super(`${feature} needs ${packages.join(' and ')}, which ${packages.length > 1 ? 'are' : 'is'} not installed: npm install ${packages.join(' ')}`);
  }
}

/** Throws a MissingPackageError unless every package in `names` can be loaded from here. */
export function requirePackages(feature: string, ...names: string[]): void {
  const missing = names.filter((name) => {
    try {
      require.resolve(name);
      return false;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return true;
      throw err;
    }
  });
  if (missing.length) throw new MissingPackageError(missing, feature);
}

/** The package `name`, loaded now (typed by the caller: `loadPackage<typeof import('name')>`). */
export function loadPackage<T>(name: string, feature: string): T {
  requirePackages(feature, name);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(name) as T;
}
