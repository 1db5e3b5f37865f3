package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// probeTry bounds one metadata request of probe; probeEvery is the pause
// between two.
const (
	probeTry   = 2 * time.Second
	probeEvery = 250 * time.Millisecond
)

// probe waits until a broker at brokers answers a metadata request that lists
// at least one broker, retrying until timeout. A container's log line says the
// broker started, not that its listener accepts connections yet: under load,
// a test handed the container at once met "connection refused". The error
// names the brokers, the time waited and the last failure.
func probe(ctx context.Context, brokers []string, timeout time.Duration) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("kafka at %s: %w", strings.Join(brokers, ","), err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	begin := time.Now()
	for {
		err := metadataOnce(ctx, cl)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka at %s did not answer a metadata request within %s: %w",
				strings.Join(brokers, ","), time.Since(begin).Round(100*time.Millisecond), err)
		case <-time.After(probeEvery):
		}
	}
}

func metadataOnce(ctx context.Context, cl *kgo.Client) error {
	tctx, cancel := context.WithTimeout(ctx, probeTry)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // brokers only
	resp, err := req.RequestWith(tctx, cl)
	switch {
	case err != nil:
		return err
	case len(resp.Brokers) == 0:
		return errors.New("metadata lists no broker")
	}
	return nil
}
