// Peer: franz-go (pure Go client, kgo + kadm) against a Kafka bootstrap server.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	peer        = "go"
	caseTimeout = 60 * time.Second
	partitions  = 3
)

var failed bool

type result struct {
	Peer    string `json:"peer"`
	Case    string `json:"case"`
	OK      bool   `json:"ok"`
	Detail  string `json:"detail"`
	Skipped bool   `json:"skipped,omitempty"`
}

func emit(c string, ok bool, detail string, skipped bool) {
	if len(detail) > 500 {
		detail = detail[:500]
	}
	r := result{Peer: peer, Case: c, OK: ok, Detail: detail, Skipped: skipped}
	if !ok {
		failed = true
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

func runCase(name string, fn func(ctx context.Context) (string, error)) bool {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	t0 := time.Now()
	detail, err := fn(ctx)
	if err != nil {
		emit(name, false, err.Error(), false)
		return false
	}
	emit(name, true, fmt.Sprintf("%s (%.2fs)", detail, time.Since(t0).Seconds()), false)
	return true
}

type rec struct {
	partition int32
	offset    int64
	key       string
	value     string
	headers   []kgo.RecordHeader
}

func expected(i int) (string, string, []kgo.RecordHeader) {
	return fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d", i),
		[]kgo.RecordHeader{{Key: "peer", Value: []byte(peer)}, {Key: "idx", Value: []byte(strconv.Itoa(i))}}
}

type pos struct {
	p int32
	o int64
}

func verify(recs []rec, n int, produced map[int]pos) (string, error) {
	if len(recs) != n {
		return "", fmt.Errorf("got %d records, want %d", len(recs), n)
	}
	seen := map[int]bool{}
	last := map[int32]int{}
	for _, r := range recs {
		i, err := strconv.Atoi(strings.TrimPrefix(r.key, "key-"))
		if err != nil {
			return "", fmt.Errorf("bad key %q", r.key)
		}
		if seen[i] {
			return "", fmt.Errorf("duplicate record %d", i)
		}
		seen[i] = true
		k, v, h := expected(i)
		if r.key != k || r.value != v {
			return "", fmt.Errorf("record %d: %s/%s", i, r.key, r.value)
		}
		if len(r.headers) != len(h) {
			return "", fmt.Errorf("record %d: %d headers", i, len(r.headers))
		}
		for j := range h {
			if r.headers[j].Key != h[j].Key || string(r.headers[j].Value) != string(h[j].Value) {
				return "", fmt.Errorf("record %d: header %d = %s:%s", i, j, r.headers[j].Key, r.headers[j].Value)
			}
		}
		if l, ok := last[r.partition]; ok && i <= l {
			return "", fmt.Errorf("partition %d out of order: %d after %d", r.partition, i, l)
		}
		last[r.partition] = i
		if produced != nil && produced[i] != (pos{r.partition, r.offset}) {
			return "", fmt.Errorf("record %d at %d/%d, producer said %v", i, r.partition, r.offset, produced[i])
		}
	}
	return fmt.Sprintf("%d records over %d partition(s), content and order ok", n, len(last)), nil
}

func pollN(ctx context.Context, cl *kgo.Client, n int) ([]rec, error) {
	var out []rec
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out, fmt.Errorf("timed out with %d/%d records", len(out), n)
		}
		var errs []string
		fs.EachError(func(t string, p int32, err error) { errs = append(errs, fmt.Sprintf("%s/%d: %v", t, p, err)) })
		if len(errs) > 0 {
			return out, errors.New(strings.Join(errs, "; "))
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, rec{r.Partition, r.Offset, string(r.Key), string(r.Value), r.Headers})
		})
	}
	return out, nil
}

func main() {
	bootstrap := flag.String("bootstrap", "", "host:port")
	topic := flag.String("topic", "", "topic")
	n := flag.Int("records", 100, "records")
	group := flag.String("group", "", "consumer group")
	flag.Parse()
	if *bootstrap == "" || *topic == "" {
		fmt.Fprintln(os.Stderr, "usage: franz-go-peer --bootstrap H:P --topic T [--records N] [--group G]")
		os.Exit(2)
	}
	if *group == "" {
		*group = *topic + "-group"
	}
	base := []kgo.Opt{kgo.SeedBrokers(*bootstrap), kgo.DialTimeout(10 * time.Second), kgo.RequestTimeoutOverhead(10 * time.Second)}
	adminCl, err := kgo.NewClient(base...)
	if err != nil {
		emit("metadata", false, err.Error(), false)
		os.Exit(1)
	}
	defer adminCl.Close()
	adm := kadm.NewClient(adminCl)
	produced := map[int]pos{}

	runCase("metadata", func(ctx context.Context) (string, error) {
		md, err := adm.BrokerMetadata(ctx)
		if err != nil {
			return "", err
		}
		if len(md.Brokers) == 0 {
			return "", errors.New("no brokers")
		}
		return fmt.Sprintf("cluster_id=%s brokers=%v controller=%d", md.Cluster, md.Brokers.NodeIDs(), md.Controller), nil
	})

	runCase("create_topic", func(ctx context.Context) (string, error) {
		resp, err := adm.CreateTopic(ctx, partitions, 1, nil, *topic)
		if err != nil {
			return "", err
		}
		if resp.Err != nil {
			return "", resp.Err
		}
		for ctx.Err() == nil {
			md, err := adm.Metadata(ctx, *topic)
			if err == nil {
				if td, ok := md.Topics[*topic]; ok && td.Err == nil && len(td.Partitions) == partitions {
					ready := true
					for _, p := range td.Partitions {
						if p.Leader < 0 || p.Err != nil {
							ready = false
						}
					}
					if ready {
						return fmt.Sprintf("%d partitions with leaders", partitions), nil
					}
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		return "", ctx.Err()
	})

	ok := runCase("produce", func(ctx context.Context) (string, error) {
		cl, err := kgo.NewClient(append(base, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(5*time.Millisecond))...)
		if err != nil {
			return "", err
		}
		defer cl.Close()
		recs := make([]*kgo.Record, 0, *n)
		for i := 0; i < *n; i++ {
			k, v, h := expected(i)
			recs = append(recs, &kgo.Record{Topic: *topic, Key: []byte(k), Value: []byte(v), Headers: h})
		}
		res := cl.ProduceSync(ctx, recs...)
		if err := res.FirstErr(); err != nil {
			return "", err
		}
		for _, r := range res {
			i, _ := strconv.Atoi(strings.TrimPrefix(string(r.Record.Key), "key-"))
			produced[i] = pos{r.Record.Partition, r.Record.Offset}
		}
		return fmt.Sprintf("%d records acked (idempotent, acks=all)", *n), nil
	})

	var groupCl *kgo.Client
	if ok {
		runCase("consume", func(ctx context.Context) (string, error) {
			// No group: direct consumption of every partition from the start.
			cl, err := kgo.NewClient(append(base, kgo.ConsumeTopics(*topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
			if err != nil {
				return "", err
			}
			defer cl.Close()
			recs, err := pollN(ctx, cl, *n)
			if err != nil {
				return "", err
			}
			return verify(recs, *n, produced)
		})
		grouped := runCase("group_consume", func(ctx context.Context) (string, error) {
			cl, err := kgo.NewClient(append(base, kgo.ConsumerGroup(*group), kgo.ConsumeTopics(*topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
				kgo.SessionTimeout(10*time.Second))...)
			if err != nil {
				return "", err
			}
			groupCl = cl
			recs, err := pollN(ctx, cl, *n)
			if err != nil {
				return "", err
			}
			detail, err := verify(recs, *n, produced)
			if err != nil {
				return "", err
			}
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				return "", fmt.Errorf("commit: %w", err)
			}
			return detail + "; committed", nil
		})
		if grouped {
			runCase("committed_offset", func(ctx context.Context) (string, error) {
				defer groupCl.Close()
				resps, err := adm.FetchOffsets(ctx, *group)
				if err != nil {
					return "", err
				}
				if err := resps.Error(); err != nil {
					return "", err
				}
				var total int64
				resps.Each(func(o kadm.OffsetResponse) {
					if o.Topic == *topic && o.At >= 0 {
						total += o.At
					}
				})
				if total != int64(*n) {
					return "", fmt.Errorf("committed offsets sum to %d, want %d", total, *n)
				}
				return fmt.Sprintf("committed offsets sum to %d (kadm.FetchOffsets)", *n), nil
			})
		} else {
			if groupCl != nil {
				groupCl.Close()
			}
			emit("committed_offset", false, "not run: group_consume failed", false)
		}
		runCase("transactions", func(ctx context.Context) (string, error) {
			return transactions(ctx, base, *topic, *n)
		})
	} else {
		for _, c := range []string{"consume", "group_consume", "committed_offset", "transactions"} {
			emit(c, false, "not run: produce failed", false)
		}
	}

	runCase("delete_topic", func(ctx context.Context) (string, error) {
		resp, err := adm.DeleteTopic(ctx, *topic)
		if err != nil {
			return "", err
		}
		if resp.Err != nil {
			return "", resp.Err
		}
		return "deleted", nil
	})
	if failed {
		os.Exit(1)
	}
}

// transactions: a committed transaction (10 records), an aborted one (5 records), fencing by a
// second instance with the same transactional id; a read_committed consumer then sees only the
// n plain and the 10 committed records. (No offsets in the transaction: franz-go sends those
// only through its GroupTransactSession, which needs a live group member.)
func transactions(ctx context.Context, base []kgo.Opt, topic string, n int) (string, error) {
	txnID := topic + "-txn"
	mk := func() (*kgo.Client, error) {
		return kgo.NewClient(append(base, kgo.TransactionalID(txnID),
			kgo.TransactionTimeout(60*time.Second), kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	}
	inTxn := func(cl *kgo.Client, prefix string, k int, end kgo.TransactionEndTry) error {
		if err := cl.BeginTransaction(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		recs := make([]*kgo.Record, 0, k)
		for i := 0; i < k; i++ {
			recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprintf("txn-key-%d", i)),
				Value: []byte(prefix + strconv.Itoa(i)), Partition: int32(i % partitions)})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		if err := cl.EndTransaction(ctx, end); err != nil {
			return fmt.Errorf("end transaction: %w", err)
		}
		return nil
	}
	cl, err := mk()
	if err != nil {
		return "", err
	}
	defer cl.Close()
	if err := inTxn(cl, "txn-commit-", 10, kgo.TryCommit); err != nil {
		return "", err
	}
	if err := inTxn(cl, "txn-abort-", 5, kgo.TryAbort); err != nil {
		return "", err
	}
	// franz-go gets its producer id at the first produce: the second instance's first
	// (aborted) transaction bumps the epoch and fences the first instance.
	other, err := mk()
	if err != nil {
		return "", err
	}
	defer other.Close()
	if err := inTxn(other, "txn-other-", 1, kgo.TryAbort); err != nil {
		return "", fmt.Errorf("second instance: %w", err)
	}
	zombie := inTxn(cl, "txn-zombie-", 1, kgo.TryCommit)
	if zombie == nil {
		return "", errors.New("the old producer was not fenced")
	}
	if !errors.Is(zombie, kerr.ProducerFenced) && !errors.Is(zombie, kerr.InvalidProducerEpoch) {
		return "", fmt.Errorf("the old producer failed, but not as fenced: %w", zombie)
	}
	c, err := kgo.NewClient(append(base, kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		return "", err
	}
	defer c.Close()
	commits, plain := 0, 0
	var settle time.Time // once every expected record is in, poll 2 s more for leaks
	for {
		if commits == 10 && plain == n && settle.IsZero() {
			settle = time.Now().Add(2 * time.Second)
		}
		if !settle.IsZero() && time.Now().After(settle) {
			break
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := c.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return "", fmt.Errorf("read_committed: %d committed and %d plain records when the case timed out", commits, plain)
		}
		var bad error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				bad = fmt.Errorf("fetch %s[%d]: %w", t, p, err)
			}
		})
		if bad != nil {
			return "", bad
		}
		fetches.EachRecord(func(r *kgo.Record) {
			v := string(r.Value)
			switch {
			case strings.HasPrefix(v, "txn-commit-"):
				commits++
			case strings.HasPrefix(v, "txn-"):
				bad = fmt.Errorf("read_committed returned %q", v)
			default:
				plain++
			}
		})
		if bad != nil {
			return "", bad
		}
	}
	if commits != 10 || plain != n {
		return "", fmt.Errorf("read_committed: %d committed and %d plain records, want 10 and %d", commits, plain, n)
	}
	return fmt.Sprintf("commit (10 records), abort (5 records), fencing (%v); read_committed sees %d plain + 10 committed", zombie, n), nil
}
