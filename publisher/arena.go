package publisher

// arena hands out the bytes of produced records (keys, values, header values)
// from large shared blocks, so that a record's bytes cost no allocation of their
// own. Bytes handed out are not written again until the transaction of every
// record in their block has committed: kgo reads them until the record is
// produced, and only a committed transaction proves that it has (see recycler).
type arena struct {
	buf      []byte // the block being filled
	bufSince int    // blocks.aborts when buf was handed out
	blocks   recycler[byte]
}

const (
	arenaBlock   = 256 << 10 // a block's size
	arenaMinFree = 16 << 10  // with less free space than this, free starts a new block
)

// free returns the arena's free space to append one record's bytes to. Call
// keep with the result before calling free again.
func (a *arena) free() []byte {
	if cap(a.buf)-len(a.buf) < arenaMinFree {
		if a.buf != nil {
			a.blocks.used(a.buf, a.bufSince)
		}
		a.buf, a.bufSince = a.blocks.get(arenaBlock)
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

// committed says that every record handed bytes so far is in a committed
// transaction: the blocks already filled can be filled again.
func (a *arena) committed() { a.blocks.committed() }

// aborted says that a transaction aborted: kgo may still hold its records (an
// abort that timed out leaves them buffered), so no block that holds them is
// ever filled again.
func (a *arena) aborted() { a.blocks.aborted() }

// recycler hands out again the memory of produced records (their bytes, the
// Record structs, their headers) once the transaction holding them commits,
// instead of leaving it to the garbage collector: an initial load produces the
// whole customer base, and that memory is most of what covacdc allocates
// besides decoding.
//
// Reuse is safe only after a commit: EndTransaction commits only after Flush,
// which returns once every buffered record's promise has run, and kgo keeps no
// record after its promise. After an abort, records may still be buffered, so
// the memory used since the last commit is dropped, never reused.
type recycler[T any] struct {
	inUse  [][]T // used since the last commit
	spare  [][]T // free to hand out again
	aborts int   // transactions aborted so far
}

// maxSpare bounds the memory a recycler keeps between transactions: 16 arena
// blocks are 4 MB, more than a transaction of the default 2,000 events fills.
const maxSpare = 16

// get returns an empty slice with room for n elements, reused when a spare one
// is large enough, and the count of aborts to give used with it.
func (r *recycler[T]) get(n int) ([]T, int) {
	for i := len(r.spare) - 1; i >= 0; i-- {
		if s := r.spare[i]; cap(s) >= n {
			r.spare[i] = r.spare[len(r.spare)-1]
			r.spare[len(r.spare)-1] = nil
			r.spare = r.spare[:len(r.spare)-1]
			return s[:0], r.aborts
		}
	}
	return make([]T, 0, n), r.aborts
}

// used says that records are done being given s (taken from get when the
// abort count was since): it becomes spare once the transaction now open (or
// the next) commits, unless a transaction aborted since get, which may have
// left some of those records buffered.
func (r *recycler[T]) used(s []T, since int) {
	if cap(s) > 0 && since == r.aborts {
		r.inUse = append(r.inUse, s)
	}
}

// committed keeps as many spares as the transaction just committed used:
// enough for the next one like it, and none held through a stretch of small
// transactions (an idle covacdc commits little more than cursors).
func (r *recycler[T]) committed() {
	keep := min(len(r.inUse), maxSpare)
	r.spare = append(r.spare, r.inUse...)
	clear(r.spare[keep:])
	r.spare = r.spare[:keep]
	clear(r.inUse)
	r.inUse = r.inUse[:0]
}

func (r *recycler[T]) aborted() {
	clear(r.inUse)
	r.inUse = r.inUse[:0]
	r.aborts++
}
