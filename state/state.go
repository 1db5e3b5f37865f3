// Package state is covacdc's memory, kept in one compacted Kafka topic: the last
// Version published for each customer and each company's cursor. It rebuilds a
// compact in-memory index from the topic at startup and turns changes into the
// state records the publisher writes in the same transaction as the events. It
// never writes to Kafka itself.
package state

import (
	"time"
)

// Cursor is where a company's next scan starts and what a resume needs.
type Cursor struct {
	// Since is the LastModifiedDateUtc filter of the next scan.
	Since time.Time
	// ScanStarted is the server's clock (its Date header) when the last completed scan began.
	ScanStarted time.Time
	// ScanFinished is when the last completed scan was committed (local clock).
	ScanFinished time.Time
	// InitialLoadComplete is true once a full scan from the start cursor has committed.
	InitialLoadComplete bool
	// Scans counts completed scans.
	Scans int64
	// Resync is the resync of the company requested or under way: its next
	// scan publishes every customer in its scope again. Nil when none is.
	Resync *Resync
	// LastResync is the last resync completed; nil before the first.
	LastResync *CompletedResync
}

// CompanyState summarises one company's state for operators (covacdc state).
type CompanyState struct {
	CompanyID int64
	Cursor    Cursor
	HasCursor bool // false: no scan completed yet
	Tracked   int  // customers with a published Version
	// Resynced counts the customers the active resync (Cursor.Resync) has
	// published so far: its progress. 0 when none is active.
	Resynced int
}

// TopicConfig says how the state topic is created when missing.
type TopicConfig struct {
	Topic             string // Default "covacdc.state".
	Partitions        int32  // Default 1.
	ReplicationFactor int16  // Default -1 (the broker's default).
	MinInsyncReplicas int    // Default 0 (the broker's default).
}
