#!/usr/bin/env node
// Peer: kafkajs (pure JavaScript client) against a Kafka bootstrap server.
'use strict';
const { Kafka, logLevel, Partitioners } = require('kafkajs');

const PEER = 'node';
const CASE_TIMEOUT_MS = 60000;
const PARTITIONS = 3;

function parseArgs(argv) {
  const a = { records: 100 };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    a[k] = argv[i + 1];
  }
  if (!a.bootstrap || !a.topic) {
    process.stderr.write('usage: peer.js --bootstrap H:P --topic T [--records N] [--group G]\n');
    process.exit(2);
  }
  a.records = parseInt(a.records, 10);
  a.group = a.group || `${a.topic}-group`;
  return a;
}

let failed = false;
function emit(c, ok, detail, skipped) {
  const r = { peer: PEER, case: c, ok: !!ok, detail: String(detail).slice(0, 500) };
  if (skipped) r.skipped = true;
  if (!ok) failed = true;
  process.stdout.write(JSON.stringify(r) + '\n');
}

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p,
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what} timed out after ${ms}ms`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

async function runCase(name, fn) {
  const t0 = Date.now();
  try {
    const detail = await withTimeout(fn(), CASE_TIMEOUT_MS, name);
    emit(name, true, `${detail} (${((Date.now() - t0) / 1000).toFixed(2)}s)`);
    return true;
  } catch (e) {
    emit(name, false, `${e && e.name}: ${e && e.message}`);
    return false;
  }
}

function expected(i) {
  return { key: `key-${i}`, value: `value-${i}`, headers: { peer: PEER, idx: String(i) } };
}

// recs: [{partition, offset, key, value, headers}] in delivery order.
function verify(recs, n) {
  if (recs.length !== n) throw new Error(`got ${recs.length} records, want ${n}`);
  const seen = new Set();
  const last = new Map();
  const nextOffset = new Map();
  for (const r of recs) {
    const i = parseInt(r.key.split('-')[1], 10);
    if (seen.has(i)) throw new Error(`duplicate record ${i}`);
    seen.add(i);
    const e = expected(i);
    if (r.key !== e.key || r.value !== e.value) throw new Error(`record ${i}: ${r.key}/${r.value}`);
    const h = Object.fromEntries(Object.entries(r.headers || {}).map(([k, v]) => [k, v.toString()]));
    if (JSON.stringify(h) !== JSON.stringify(e.headers)) throw new Error(`record ${i}: headers ${JSON.stringify(h)}`);
    if (last.has(r.partition) && i <= last.get(r.partition)) throw new Error(`partition ${r.partition} out of order`);
    last.set(r.partition, i);
    const want = nextOffset.get(r.partition) || 0;
    if (Number(r.offset) !== want) throw new Error(`partition ${r.partition}: offset ${r.offset}, want ${want}`);
    nextOffset.set(r.partition, want + 1);
  }
  return `${n} records over ${last.size} partition(s), content, order and offsets ok`;
}

async function consumeN(kafka, groupId, topic, n, keep) {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, rebalanceTimeout: 10000, maxWaitTimeInMs: 500 });
  const recs = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let done;
  const finished = new Promise((res) => { done = res; });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      recs.push({
        partition, offset: message.offset,
        key: message.key && message.key.toString(),
        value: message.value && message.value.toString(),
        headers: message.headers,
      });
      if (recs.length >= n) done();
    },
  });
  await withTimeout(finished, 45000, `consuming ${n} records`).catch(async (e) => {
    await consumer.disconnect();
    throw new Error(`${e.message}; got ${recs.length}`);
  });
  if (!keep) await consumer.disconnect();
  return { consumer, recs };
}

async function main() {
  const a = parseArgs(process.argv);
  const n = a.records;
  const kafka = new Kafka({
    clientId: 'kafka-suite-peer-node',
    brokers: [a.bootstrap],
    connectionTimeout: 10000,
    requestTimeout: 30000,
    retry: { retries: 5 },
    logLevel: logLevel.WARN,
    // Logs go to stderr: stdout carries only the JSON result lines.
    logCreator: () => ({ namespace, level, log }) => {
      process.stderr.write(`[kafkajs ${level}] ${namespace}: ${log.message}\n`);
    },
  });
  const admin = kafka.admin();
  const state = {};

  await runCase('metadata', async () => {
    await admin.connect();
    const c = await admin.describeCluster();
    if (!c.brokers.length) throw new Error('no brokers');
    return `cluster_id=${c.clusterId} brokers=${JSON.stringify(c.brokers.map((b) => b.nodeId))} controller=${c.controller}`;
  });

  await runCase('create_topic', async () => {
    const created = await admin.createTopics({
      topics: [{ topic: a.topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
      waitForLeaders: true, timeout: 30000,
    });
    if (!created) throw new Error('createTopics returned false (topic existed?)');
    const md = await admin.fetchTopicMetadata({ topics: [a.topic] });
    const parts = md.topics[0].partitions;
    if (parts.length !== PARTITIONS || parts.some((p) => p.leader < 0)) throw new Error(`metadata ${JSON.stringify(parts)}`);
    return `${PARTITIONS} partitions with leaders`;
  });

  const produced = await runCase('produce', async () => {
    const producer = kafka.producer({
      idempotent: true, maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    try {
      const messages = [];
      for (let i = 0; i < n; i++) messages.push(expected(i));
      const res = await producer.send({ topic: a.topic, acks: -1, messages });
      const bad = res.filter((r) => r.errorCode !== 0);
      if (bad.length) throw new Error(`errors ${JSON.stringify(bad)}`);
      return `${n} records acked in ${res.length} partition batch(es) (idempotent, acks=all)`;
    } finally {
      await producer.disconnect();
    }
  });

  if (produced) {
    await runCase('consume', async () => {
      // kafkajs has no group-less consumer: use a throwaway group, never committed.
      const { recs } = await consumeN(kafka, `${a.group}-scan`, a.topic, n, false);
      return verify(recs, n);
    });
    const grouped = await runCase('group_consume', async () => {
      const { consumer, recs } = await consumeN(kafka, a.group, a.topic, n, true);
      state.consumer = consumer;
      const detail = verify(recs, n);
      const next = new Map();
      for (const r of recs) next.set(r.partition, Number(r.offset) + 1);
      await consumer.commitOffsets([...next].map(([partition, off]) => ({ topic: a.topic, partition, offset: String(off) })));
      return `${detail}; committed`;
    });
    if (grouped) {
      await runCase('committed_offset', async () => {
        try {
          const res = await admin.fetchOffsets({ groupId: a.group, topics: [a.topic] });
          const total = res.flatMap((t) => t.partitions).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
          if (total !== n) throw new Error(`committed offsets sum to ${total}, want ${n}`);
          return `committed offsets sum to ${n} (admin.fetchOffsets)`;
        } finally {
          await state.consumer.disconnect();
        }
      });
    } else {
      emit('committed_offset', false, 'not run: group_consume failed');
    }
  } else {
    for (const c of ['consume', 'group_consume', 'committed_offset']) emit(c, false, 'not run: produce failed');
  }

  await runCase('delete_topic', async () => {
    await admin.deleteTopics({ topics: [a.topic], timeout: 30000 });
    return 'deleted';
  });
  await admin.disconnect().catch(() => {});
  return failed ? 1 : 0;
}

const hardStop = setTimeout(() => {
  process.stderr.write('peer.js: overall timeout\n');
  process.exit(3);
}, 6 * CASE_TIMEOUT_MS);
hardStop.unref();

main().then((code) => process.exit(code), (e) => {
  process.stderr.write(`peer.js: ${e && e.stack}\n`);
  process.exit(1);
});
