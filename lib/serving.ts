// Serving a fitted model: the request batcher and the HTTP server built on it (`betanmf serve`).
export { createBatcher, QueueFullError, BatcherClosedError, type Batcher, type BatcherOptions, type BatcherStats } from './batcher';
export { serveModel, type ServeOptions, type ModelServer } from './http-server';
