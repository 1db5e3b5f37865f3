// Package publisher writes CustomerChanged events, dead letters and the state
// records that reflect them to Kafka in one transaction per batch, so a consumer
// reading with read_committed sees every change exactly once. It fences any older
// instance with the same transactional id before it restores state.
//
// It does not read Cova and does not decide when to scan: cmd/covacdc drives it
// with BeginScan, Publish and Complete.
package publisher
