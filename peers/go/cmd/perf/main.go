// franz-go peer for scripts/producer-bench.sh and scripts/consumer-bench.sh: produce N keyless
// records of S bytes as fast as possible (--mode produce, the default), or read N records of a
// topic from the beginning (--mode consume: no group, every partition, kgo's default fetch
// settings; timed from the first record to the N-th), and print one JSON line in the format
// of ../shared/bench (client, mode, records, bytes, size, acks, seconds, records_per_s,
// mb_per_s (MiB/s), p50_ms, p99_ms).
//
//	franz-go-perf --bootstrap H:P --topic T --records N --size B [--acks all|1|0]
//	              [--batch-size B] [--linger-ms L] [--timeout-s S] [--mode produce|consume]
//
// Settings as the other peers: ProducerLinger(5ms), ProducerBatchMaxBytes(batch),
// RequiredAcks(AllISRAcks) with idempotence (kgo's default; disabled for acks 1/0, which kgo
// requires), no compression, default (sticky) partitioner, MaxBufferedRecords 1,000,000 (as
// librdkafka's queue.buffering.max.messages in the rdkafka peer). The topic must exist (the
// driver pre-creates it). Timing starts after one warm-up record is acknowledged and ends
// when Flush returns; latency per record is Produce -> promise.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func fail(msg string, args ...any) {
	fmt.Fprintf(os.Stderr, "[franz-go] FAILED: "+msg+"\n", args...)
	os.Exit(1)
}

func percentileMs(sorted []uint32, p float64) *float64 {
	if len(sorted) == 0 {
		return nil
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	v := math.Round(float64(sorted[rank-1])) / 1000
	return &v
}

func main() {
	bootstrap := flag.String("bootstrap", "", "host:port")
	topic := flag.String("topic", "", "topic (must exist)")
	n := flag.Int("records", 0, "records")
	size := flag.Int("size", 100, "value bytes")
	acks := flag.String("acks", "all", "all|1|0")
	batch := flag.Int("batch-size", 1000000, "ProducerBatchMaxBytes")
	lingerMs := flag.Int("linger-ms", 5, "ProducerLinger in ms")
	timeoutS := flag.Int("timeout-s", 300, "overall timeout")
	_ = flag.Int("partitions", 6, "accepted; the driver creates the topic")
	mode := flag.String("mode", "produce", "produce|consume")
	flag.Parse()
	if *bootstrap == "" || *topic == "" || *n <= 0 {
		fmt.Fprintln(os.Stderr, "usage: franz-go-perf --bootstrap H:P --topic T --records N --size B [--acks all|1|0] [--mode produce|consume]")
		os.Exit(2)
	}
	if *mode == "consume" {
		consume(*bootstrap, *topic, *n, *size, *timeoutS)
		return
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(*bootstrap),
		kgo.ClientID("franz-go-perf"),
		kgo.ProducerLinger(time.Duration(*lingerMs) * time.Millisecond),
		kgo.ProducerBatchMaxBytes(int32(*batch)),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.MaxBufferedRecords(1000000),
		kgo.DefaultProduceTopic(*topic),
	}
	ackName := *acks
	switch *acks {
	case "all", "-1":
		ackName = "all"
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		fail("bad --acks %q", *acks)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fail("%v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(*timeoutS)*time.Second)
	defer cancel()

	payload := make([]byte, *size)
	for i := range payload {
		payload[i] = byte('a' + i%23)
	}
	// Warm-up: metadata, connections, producer id.
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: payload}).FirstErr(); err != nil {
		fail("warm-up record: %v", err)
	}

	lat := make([]uint32, *n) // microseconds; each index written once by its promise
	var errs atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	for i := 0; i < *n; i++ {
		sent := time.Now()
		idx := i
		cl.Produce(ctx, &kgo.Record{Value: payload}, func(_ *kgo.Record, err error) {
			if err != nil {
				if errs.Add(1) == 1 {
					firstErr.Store(err.Error())
				}
				return
			}
			us := time.Since(sent).Microseconds()
			if us < 1 {
				us = 1
			}
			if us > math.MaxUint32 {
				us = math.MaxUint32
			}
			lat[idx] = uint32(us)
		})
	}
	if err := cl.Flush(ctx); err != nil {
		fail("flush: %v", err)
	}
	seconds := time.Since(start).Seconds()
	if e := errs.Load(); e > 0 {
		fail("%d records failed (first: %v)", e, firstErr.Load())
	}
	v := lat[:0:0]
	for _, l := range lat {
		if l > 0 {
			v = append(v, l)
		}
	}
	sort.Slice(v, func(a, b int) bool { return v[a] < v[b] })
	bytes := int64(*n) * int64(*size)
	out := map[string]any{
		"client": "franz-go", "mode": "produce", "records": *n, "bytes": bytes, "size": *size,
		"acks": ackName, "seconds": math.Round(seconds*1e4) / 1e4,
		"records_per_s": math.Round(float64(*n)/seconds*10) / 10,
		"mb_per_s":      math.Round(float64(bytes)/(1024*1024)/seconds*1e3) / 1e3,
		"p50_ms":        percentileMs(v, 50), "p99_ms": percentileMs(v, 99),
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

// consume reads n records of topic from the beginning, group-less, and prints the JSON line.
func consume(bootstrap, topic string, n, size, timeoutS int) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap),
		kgo.ClientID("franz-go-perf"),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		fail("%v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeoutS)*time.Second)
	defer cancel()
	got, bytes := 0, int64(0)
	var start time.Time
	for got < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			fail("timed out with %d of %d records", got, n)
		}
		fetches.EachError(func(t string, p int32, err error) {
			fail("fetch %s[%d]: %v", t, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			if got == 0 {
				start = time.Now()
			}
			if got < n {
				got++
				bytes += int64(len(r.Value))
			}
		})
	}
	seconds := time.Since(start).Seconds()
	out := map[string]any{
		"client": "franz-go", "mode": "consume", "records": n, "bytes": bytes, "size": size,
		"acks": "-", "seconds": math.Round(seconds*1e4) / 1e4,
		"records_per_s": math.Round(float64(n)/seconds*10) / 10,
		"mb_per_s":      math.Round(float64(bytes)/(1024*1024)/seconds*1e3) / 1e3,
		"p50_ms":        nil, "p99_ms": nil,
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}
