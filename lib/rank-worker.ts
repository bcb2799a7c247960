// Entry point of a sweep's worker process (forked by rank-parallel.ts).
import { serveFits } from './rank-parallel';

serveFits();
