// The queue figure's baseline: BullMQ on the same Redis as Junction's queue, run by
// `cargo xtask bench queue` right after Junction's own figure (docs/benchmarks.md).
//
//   node queue.mjs --redis redis://127.0.0.1:6379 --jobs 20000 --concurrency 50 --prefix P
//
// It measures what the Junction figure measures, with BullMQ's defaults:
// - enqueue: N jobs (two UUIDs each, as Junction's notify job) added with
//   `Queue.addBulk`, in batches of ENQUEUE_BATCH, one after another;
// - processing: one `Worker` at the given concurrency whose processor only counts,
//   timed from the worker's start (connected) to the last processor's return, as
//   Junction's figure times its runner to the last handler's return;
// - Redis's CPU (`INFO cpu`: used_cpu_user + used_cpu_sys, read through the same
//   Redis) before the enqueue, between the phases and after the worker closed
//   (its last acknowledgements included), as µs per job.
//
// It prints one JSON line on stdout (the field names are the ones xtask also reads
// from Junction's figure) and obliterates the queue afterwards, then deletes any
// key still under the prefix, so the Redis is left as it was. It connects to
// nothing but the Redis URL.

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";

/// Jobs per `addBulk` call: one MULTI of that many scripts per round trip.
const ENQUEUE_BATCH = 1000;
/// The longest the worker may take to drain the jobs (as Junction's figure).
const DEADLINE_MS = 180_000;
const QUEUE_NAME = "bench";

const { values: args } = parseArgs({
  options: {
    redis: { type: "string", default: "redis://127.0.0.1:6379" },
    jobs: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "50" },
    prefix: { type: "string" },
  },
  strict: true,
});

/** A positive whole number from a command-line value. */
function positive(name, value) {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number <= 0) {
    throw new Error(`--${name} must be a positive whole number, not ${value}`);
  }
  return number;
}

const jobs = positive("jobs", args.jobs);
const concurrency = positive("concurrency", args.concurrency);
// A prefix of the run's own: two runs on one Redis must not share keys.
const prefix = args.prefix ?? `junction-bench-bullmq-${process.pid}-${Date.now()}`;
const version = JSON.parse(
  readFileSync(new URL("./node_modules/bullmq/package.json", import.meta.url)),
).version;

/** The Redis server's CPU time so far, in seconds (user + system). */
async function redisCpuSeconds(redis) {
  const info = await redis.info("cpu");
  const field = (name) => {
    const line = info.split(/\r?\n/).find((l) => l.startsWith(`${name}:`));
    const value = Number(line?.slice(name.length + 1));
    if (line === undefined || !Number.isFinite(value)) {
      throw new Error(`no ${name} in Redis's INFO cpu`);
    }
    return value;
  };
  return field("used_cpu_user") + field("used_cpu_sys");
}

/** Deletes every key under the prefix that obliterate left (there should be none). */
async function deleteLeftovers(redis) {
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    if (keys.length > 0) {
      deleted += await redis.del(...keys);
    }
    cursor = next;
  } while (cursor !== "0");
  return deleted;
}

async function measure(redis, queue) {
  const cpuStart = await redisCpuSeconds(redis);
  const enqueueStarted = performance.now();
  for (let first = 0; first < jobs; first += ENQUEUE_BATCH) {
    const batch = [];
    for (let i = first; i < Math.min(first + ENQUEUE_BATCH, jobs); i++) {
      batch.push({
        name: "notify",
        data: { workspace_id: randomUUID(), notification_id: randomUUID() },
      });
    }
    await queue.addBulk(batch);
  }
  const enqueueSeconds = (performance.now() - enqueueStarted) / 1000;
  const cpuEnqueued = await redisCpuSeconds(redis);
  process.stderr.write(`bullmq: ${jobs} jobs enqueued in ${enqueueSeconds.toFixed(2)}s\n`);

  let done = 0;
  let finishedAt;
  let allDone;
  const finished = new Promise((resolve) => {
    allDone = resolve;
  });
  // Workers block on Redis, which BullMQ requires to retry forever.
  const connection = new Redis(args.redis, { maxRetriesPerRequest: null });
  const worker = new Worker(
    QUEUE_NAME,
    async () => {
      done += 1;
      if (done === jobs) {
        finishedAt = performance.now();
        allDone();
      }
    },
    {
      connection,
      prefix,
      concurrency,
      autorun: false,
    },
  );
  worker.on("error", (error) => process.stderr.write(`bullmq worker: ${error}\n`));
  await worker.waitUntilReady();
  const processStarted = performance.now();
  const running = worker.run();
  let timer;
  const deadline = new Promise((resolve) => {
    timer = setTimeout(resolve, DEADLINE_MS);
  });
  await Promise.race([finished, deadline]);
  clearTimeout(timer);
  // Closing waits for the jobs in flight to be acknowledged, so their Redis work
  // counts, as Junction's figure reads Redis's CPU after its runner shut down.
  await worker.close();
  await running;
  // BullMQ leaves a connection it was given open.
  connection.disconnect();
  if (finishedAt === undefined) {
    throw new Error(`only ${done} of ${jobs} jobs ran within ${DEADLINE_MS / 1000}s`);
  }
  const cpuEnd = await redisCpuSeconds(redis);
  const processSeconds = (finishedAt - processStarted) / 1000;
  return {
    queue: "bullmq",
    version,
    jobs,
    concurrency,
    enqueue_seconds: enqueueSeconds,
    process_seconds: processSeconds,
    enqueue_per_second: jobs / enqueueSeconds,
    process_per_second: jobs / processSeconds,
    redis_cpu_enqueue_seconds: cpuEnqueued - cpuStart,
    redis_cpu_process_seconds: cpuEnd - cpuEnqueued,
    redis_cpu_us_per_job: ((cpuEnd - cpuStart) * 1e6) / jobs,
  };
}

const redis = new Redis(args.redis, { maxRetriesPerRequest: 3 });
const queueConnection = new Redis(args.redis, { maxRetriesPerRequest: 3 });
const queue = new Queue(QUEUE_NAME, { connection: queueConnection, prefix });
let exitCode = 0;
try {
  const figure = await measure(redis, queue);
  process.stdout.write(`${JSON.stringify(figure)}\n`);
} catch (error) {
  process.stderr.write(`bullmq: ${error?.stack ?? error}\n`);
  exitCode = 1;
} finally {
  // Cleanup must not hide the figure, but a failure to clean up is reported.
  try {
    await queue.obliterate({ force: true });
    const leftovers = await deleteLeftovers(redis);
    if (leftovers > 0) {
      process.stderr.write(`bullmq: deleted ${leftovers} keys obliterate left under ${prefix}\n`);
    }
  } catch (error) {
    process.stderr.write(`bullmq: cleaning up ${prefix}: ${error}\n`);
    exitCode = 1;
  }
  await queue.close();
  queueConnection.disconnect();
  redis.disconnect();
}
process.exit(exitCode);
