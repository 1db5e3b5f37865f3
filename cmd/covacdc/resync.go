package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"time"

	"github.com/covacdc/covacdc/internal/pipeline"
	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

type resyncFlags struct {
	Run         runFlags
	CustomerIDs []string
	Wait        time.Duration
}

func resyncCommand(f *resyncFlags) *command {
	c := newCommand("resync", "Publish a company's customers again as SNAPSHOT events, exactly once: asks the running covacdc through --signal-topic, or, when none runs, does it here and exits. Takes run's flags (from the same COVACDC_* environment).")
	f.Run.register(c)
	c.List(&f.CustomerIDs, "customer-id", "Customer GUID to publish again, repeatable or comma-separated; none: every customer of the company.")
	c.Duration(&f.Wait, "wait", time.Minute, "How long to wait for a running covacdc to accept the request (0: do not wait).")
	return c
}

// resyncMain is covacdc resync: it writes the request to the signal topic,
// then either waits for the running deployment (a member of its signal
// group) to accept it, or, when none runs, runs the pipeline for the one
// company until the resync has committed.
func resyncMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f resyncFlags
	if err := parseFlags(resyncCommand(&f), args, stdout); err != nil {
		return err
	}
	company, err := resyncCompany(f.Run.CompanyIDs)
	if err != nil {
		return err
	}
	if err := pipeline.CheckResyncRequest(company, f.CustomerIDs); err != nil {
		return usagef("%v", err)
	}
	kopts, err := f.Run.Kafka.opts()
	if err != nil {
		return err
	}
	if err := checkTopics([]topicFlag{{"state-topic", f.Run.StateTopic}, {"signal-topic", f.Run.SignalTopic}}); err != nil {
		return err
	}
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	sig := pipeline.NewResyncSignal(company, f.CustomerIDs, requester(), time.Now())
	if err := pipeline.EnsureSignalTopic(ctx, adm, f.Run.SignalTopic); err != nil {
		return err
	}
	rec := &kgo.Record{Topic: f.Run.SignalTopic, Key: []byte(f.Run.TransactionalID), Value: sig.Value()}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("signal topic %q: writing the request: %w", f.Run.SignalTopic, pipeline.GrantHint(err, "WRITE"))
	}
	scope := "every customer"
	switch n := len(f.CustomerIDs); n {
	case 0:
	case 1:
		scope = "1 customer"
	default:
		scope = fmt.Sprintf("%d customers", n)
	}
	fmt.Fprintf(stdout, "resync %s of company %d (%s) requested: %s partition %d offset %d\n", sig.ID, company, scope, rec.Topic, rec.Partition, rec.Offset)

	group := pipeline.SignalGroup(f.Run.TransactionalID)
	members, err := groupMembers(ctx, adm, group)
	if err != nil {
		return err
	}
	if members > 0 {
		return awaitAccepted(ctx, stdout, f, kopts, company, sig.ID, group, members)
	}
	fmt.Fprintf(stdout, "no covacdc is running for --transactional-id %q (group %q has no member): resyncing here\n", f.Run.TransactionalID, group)
	return resyncHere(ctx, f, company, sig.ID, stdout, stderr)
}

// resyncCompany is the one company a resync is for.
func resyncCompany(ids []string) (int64, error) {
	switch len(ids) {
	case 0:
		return 0, usagef("--company-id: required: the company to resync")
	case 1:
	default:
		return 0, usagef("--company-id: resync takes one company, got %d", len(ids))
	}
	var id int64
	if _, err := fmt.Sscan(ids[0], &id); err != nil || fmt.Sprint(id) != ids[0] || id <= 0 {
		return 0, usagef("--company-id: must be a positive whole number, got %q", ids[0])
	}
	return id, nil
}

// requester names who asked, for the request's record: user@host.
func requester() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// groupMembers counts the members of the signal group: the running
// covacdc instances of the deployment.
func groupMembers(ctx context.Context, adm *kadm.Client, group string) (int, error) {
	described, err := adm.DescribeGroups(ctx, group)
	if g, ok := described[group]; ok && g.Err != nil {
		err = g.Err
	}
	if err != nil {
		if errors.Is(err, kerr.GroupAuthorizationFailed) {
			return 0, fmt.Errorf("group %q: not allowed to describe it: grant READ on it (README: Security): %w", group, kerr.GroupAuthorizationFailed)
		}
		return 0, fmt.Errorf("group %q: describing it: %w", group, err)
	}
	g, ok := described[group]
	if !ok {
		return 0, nil
	}
	return len(g.Members), nil
}

// awaitAccepted waits until the running covacdc has accepted the resync (the
// state topic shows it under way, or completed), for at most --wait.
func awaitAccepted(ctx context.Context, stdout io.Writer, f resyncFlags, kopts []kgo.Opt, company int64, id, group string, members int) error {
	fmt.Fprintf(stdout, "covacdc is running (group %q has %d member(s)): it resyncs company %d\n", group, members, company)
	if f.Wait <= 0 {
		return nil
	}
	deadline := time.Now().Add(f.Wait)
	for {
		cs, err := companyState(ctx, f.Run.StateTopic, kopts, company)
		if err != nil {
			return err
		}
		switch r, last := cs.Cursor.Resync, cs.Cursor.LastResync; {
		case r != nil && r.ID == id:
			fmt.Fprintf(stdout, "accepted at %s; follow it with covacdc state, GET /status (resync) or covacdc_resync_in_progress{company_id=\"%d\"}\n", r.AcceptedAt.UTC().Format(time.RFC3339), company)
			return nil
		case last != nil && last.ID == id:
			fmt.Fprintf(stdout, "completed at %s\n", last.CompletedAt.UTC().Format(time.RFC3339))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("resync %s: not accepted within --wait %s; the running covacdc's log says why (is company %d one of its --company-id?); the request stays in --signal-topic", id, f.Wait, company)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// companyState reads a company's committed state.
func companyState(ctx context.Context, topic string, kopts []kgo.Opt, company int64) (state.CompanyState, error) {
	companies, err := state.Summary(ctx, topic, kopts...)
	if err != nil {
		return state.CompanyState{}, err
	}
	for _, cs := range companies {
		if cs.CompanyID == company {
			return cs, nil
		}
	}
	return state.CompanyState{CompanyID: company}, nil
}

// resyncHere runs the pipeline for the company alone, once: its start accepts
// the request from the signal topic, so its one scan is the resync.
func resyncHere(ctx context.Context, f resyncFlags, company int64, id string, stdout, stderr io.Writer) error {
	f.Run.Once = true
	cfg, err := f.Run.validate()
	if err != nil {
		return fmt.Errorf("%w (the request stays in --signal-topic: the next covacdc run does it)", err)
	}
	cfg.CompanyIDs = []int64{company}
	cfg.requireSignals = true
	log := newLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	if err := runPipeline(ctx, cfg, log, newRegistry(), nil); err != nil {
		return err
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stdout, "stopped; the resync resumes where it stopped at the next covacdc run or resync\n")
		return nil
	}
	cs, err := companyState(context.WithoutCancel(ctx), cfg.Publisher.State.Topic, cfg.Publisher.KafkaOpts, company)
	if err != nil {
		return err
	}
	if last := cs.Cursor.LastResync; last == nil || last.ID != id {
		return errors.New("resync " + id + ": the scan committed but the resync did not complete (a newer request replaced it?); see covacdc state")
	}
	fmt.Fprintf(stdout, "resync %s of company %d completed at %s\n", id, company, cs.Cursor.LastResync.CompletedAt.UTC().Format(time.RFC3339))
	return nil
}
