package schema_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A Go consumer decodes covacdc's events into schema.CustomerChanged: the
// README's consumer, with the records of a fetch made here instead of read from
// Kafka (where they come from kgo's PollFetches on a read_committed client).
func ExampleDecoder_Decode() {
	ctx := context.Background()
	fetches := fetchOfOneEvent()

	dec, _ := schema.NewDecoder(nil) // github.com/covacdc/covacdc/schema
	fetches.EachRecord(func(r *kgo.Record) {
		var ev schema.CustomerChanged
		if err := dec.Decode(ctx, r.Value, &ev); err != nil { // either wire format, any release of the schema
			log.Printf("partition %d offset %d: %v", r.Partition, r.Offset, err)
			return
		}
		c := ev.Customer
		fmt.Println(ev.ChangeType, ev.CustomerID, "version", ev.Version, "event", ev.EventID)
		if c.FamilyName != nil && len(c.Addresses) > 0 && c.Addresses[0].City != nil {
			fmt.Println(*c.FamilyName, "of", *c.Addresses[0].City, "modified", c.LastModifiedDateUtc.Time)
		}
	})
	// Output:
	// CREATED 9d2f7c1e-3b4a-4f6d-8e2c-1a0b9c8d7e6f version 7 event 351f4d9a-192e-5244-9132-e5acb37e0758
	// Lee of Seattle modified 2024-05-17 18:22:03.4471234 +0000 UTC
}

// fetchOfOneEvent is a fetch of one record holding an event encoded as covacdc
// encodes it.
func fetchOfOneEvent() kgo.Fetches {
	enc, err := schema.NewEncoder()
	if err != nil {
		panic(err)
	}
	ev := schema.NewCustomerChanged(118833, schema.TypicalCustomer())
	ev.ChangeType = schema.Created
	ev.CapturedAt = time.Date(2024, 5, 17, 18, 22, 4, 0, time.UTC)
	ev.Source = schema.Source{System: "cova", Endpoint: "/crm/v1/Companies(118833)/CustomerFull", ScanID: "scan-0001"}
	value, err := enc.Append(nil, &ev)
	if err != nil {
		panic(err)
	}
	r := &kgo.Record{Topic: "covacdc.customers", Key: []byte(ev.CustomerID), Value: value}
	return kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: r.Topic, Partitions: []kgo.FetchPartition{{Records: []*kgo.Record{r}}}}}}}
}

// The README's Go consumer handles each record as the example does, so that it
// compiles and works.
func TestReadmeConsumerIsTheExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	handler := func(text string) []string {
		var out []string
		in := false
		for line := range strings.Lines(text) {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "fetches.EachRecord(") {
				in = true
			}
			if in {
				out = append(out, line)
			}
			if in && line == "})" {
				return out
			}
		}
		return nil
	}
	_, section, _ := strings.Cut(string(readme), "### Consuming")
	want := handler(section)
	got := handler(string(example))
	if len(want) < 5 || strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Errorf("the README's record handler differs from ExampleDecoder_Decode's:\nREADME:\n%s\nexample:\n%s",
			strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
}
