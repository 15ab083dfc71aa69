'use strict';
/*
 * server.js - the benchmark's peer: newsstand's read endpoints as a Node.js
 * team would write them, with Fastify and better-sqlite3, over the same
 * SQLite file with the same queries (src/store/*.c) and indexes.
 *
 *   node bench/peer/server.js --db FILE --port N [--workers N]
 *
 * Idiomatic, without handicaps: one process per core with node:cluster
 * (--workers, default: the CPUs; the bench gives it as many as newsstand has
 * threads), statements prepared once per worker, response schemas for
 * fast-json-stringify, @fastify/etag for ETag/304, @fastify/compress (gzip
 * level 1, as newsstand) and no request logging. It answers GET only:
 * /v1/articles/:id, /v1/articles (limit, cursor, topic, entity, q),
 * /v1/entities/:id, /v1/me/feed, /v1/top-stories and /readyz. Search ranks
 * with SQLite's bm25() and the same column weights, as newsstand's own
 * ns_score() is a C extension a Node program cannot register.
 *
 * Not part of the product: it exists to be measured against.
 */
const cluster = require('node:cluster');
const crypto = require('node:crypto');
const os = require('node:os');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const DB_PATH = option('--db', './newsstand.db');
const PORT = Number(option('--port', '8081'));
const WORKERS = Number(option('--workers', String(os.cpus().length)));

if (cluster.isPrimary) {
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  cluster.on('exit', (worker, code) => {
    if (code !== 0) {
      console.error(`peer: worker ${worker.process.pid} exited with ${code}`);
      process.exit(1);
    }
  });
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      for (const id in cluster.workers) cluster.workers[id].process.kill('SIGTERM');
      process.exit(0);
    });
  }
} else {
  require('./app').start({ dbPath: DB_PATH, port: PORT }).catch((err) => {
    console.error(`peer: ${err.message}`);
    process.exit(1);
  });
}
