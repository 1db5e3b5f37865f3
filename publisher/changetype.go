package publisher

import (
	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
)

// changeType calls a Changed customer's change. A resync publishes every
// customer in its scope as a SNAPSHOT, whatever its Version, with the version
// published before as its previousVersion when there is one. Otherwise:
// UPDATED exactly when a version of the customer was published before (the
// event's previousVersion is set); else it is the customer's first event, a
// SNAPSHOT while the company's initial load is not complete and CREATED after
// it. A customer Cova changes while the initial load pages through the
// company is read twice: its second event has a previous version, so it is
// UPDATED though the load is not over.
func changeType(ch state.Change) schema.ChangeType {
	switch {
	case ch.Resync:
		return schema.Snapshot
	case ch.HasPrevious:
		return schema.Updated
	case ch.InitialLoad:
		return schema.Snapshot
	}
	return schema.Created
}
