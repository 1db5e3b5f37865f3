// Package fault is covacdc's fault suite: integration tests that build the covacdc
// binary and drive it as an operator would, against a real Apache Kafka broker and the
// in-process Cova simulator (poller/covatest), while they kill it, restart the broker,
// start a second instance with the same transactional id, take Cova down and take the
// state topic away.
//
// Every scenario ends with the independent consumer (deploy/kafka-local/check_events.py,
// librdkafka with isolation.level=read_committed, none of covacdc's code) reading the
// events topic and comparing it with the simulator's ground truth: every customer's final
// Version is there, no (customer, Version) appears twice, and Versions rise per key.
//
// The tests run only with COVACDC_FAULT_SUITE=1 and KAFKA_BROKERS naming the broker of
// deploy/kafka-local (the broker-restart scenario restarts it through its run directory);
// otherwise they skip and say why. .ci/run runs them. Knobs: COVACDC_FAULT_CUSTOMERS (the
// kill scenario's initial load, default 200000), COVACDC_FAULT_OUTAGE (how long Cova answers
// 503, default 2m), COVACDC_FAULT_SEED (replays the kill points and the generated data). The
// package holds no code besides its tests.
package fault
