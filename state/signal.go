package state

import (
	"encoding/binary"
	"strconv"
)

// signalPrefix keys the consumed position of the signal topic (resync
// requests): s/<partition> -> [format][varint next offset]. It commits in the
// transaction that accepts (or skips) the signal before it, so that each
// signal is accepted exactly once.
const signalPrefix = "s/"

// SignalKey returns the key of the consumed position of a signal-topic partition.
func SignalKey(partition int32) []byte {
	return strconv.AppendInt([]byte(signalPrefix), int64(partition), 10)
}

// SignalValue returns the value of a signal position: next is the offset of
// the next signal to read.
func SignalValue(next int64) []byte {
	return binary.AppendVarint([]byte{FormatVersion}, next)
}

// SignalOffset returns the offset of the next signal to read from a partition
// of the signal topic; false when none of it was consumed.
func (x *Index) SignalOffset(partition int32) (int64, bool) {
	next, ok := x.signals[partition]
	return next, ok
}

// SetSignalOffset records the consumed position of a signal-topic partition;
// a position before the recorded one is ignored: signals are never read twice.
func (x *Index) SetSignalOffset(partition int32, next int64) {
	if x.signals == nil {
		x.signals = make(map[int32]int64)
	}
	if old, ok := x.signals[partition]; !ok || next > old {
		x.signals[partition] = next
	}
}

func (x *Index) applySignal(key, value []byte) error {
	part, rest, err := parseCompany(key, key[2:])
	if err != nil {
		return err
	}
	if len(rest) != 0 || part < 0 || part > 1<<31-1 {
		return badRecord(key, "want s/<partition>")
	}
	if value == nil {
		delete(x.signals, int32(part))
		return nil
	}
	if len(value) < 2 || value[0] != FormatVersion {
		return badRecord(key, "signal position: want format 1 and an offset")
	}
	next, n := binary.Varint(value[1:])
	if n <= 0 || n != len(value)-1 || next < 0 {
		return badRecord(key, "signal position: bad varint")
	}
	x.SetSignalOffset(int32(part), next)
	return nil
}
