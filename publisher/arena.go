package publisher

// arena hands out the bytes of produced records (keys, values, header values)
// from large shared blocks, so that a record's bytes cost no allocation of their
// own. Bytes handed out are never written again: kgo reads them until the record
// is produced, and a block is garbage once no record points into it.
type arena struct{ buf []byte }

const (
	arenaBlock   = 256 << 10 // a new block's size
	arenaMinFree = 16 << 10  // with less free space than this, free starts a new block
)

// free returns the arena's free space to append one record's bytes to. Call
// keep with the result before calling free again.
func (a *arena) free() []byte {
	if cap(a.buf)-len(a.buf) < arenaMinFree {
		a.buf = make([]byte, 0, arenaBlock)
	}
	return a.buf[len(a.buf):]
}

// keep takes b, appended to the slice free returned, out of the free space and
// returns it with its capacity cut to its length, so that nothing appends into
// the bytes after it. If b outgrew the free space, append gave it an array of
// its own, and the arena stays as it was.
func (a *arena) keep(b []byte) []byte {
	b = b[:len(b):len(b)]
	free := a.buf[len(a.buf):cap(a.buf)]
	if len(b) > 0 && len(b) <= len(free) && &b[0] == &free[0] {
		a.buf = a.buf[:len(a.buf)+len(b)]
	}
	return b
}
