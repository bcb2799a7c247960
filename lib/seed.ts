// `betanmf/seed`: the old name of `betanmf/original` (the Theano original's snake_case names),
// kept so existing imports work. The random seed of a fit is `options.seed`, unrelated.
export * from './original';
