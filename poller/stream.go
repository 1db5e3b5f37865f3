package poller

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
	"unsafe"

	"github.com/covacdc/covacdc/schema"
)

// maxElement bounds one customer record; a larger one means a broken response.
const maxElement = 16 << 20

const (
	chunkSize = 256 << 10 // a fresh read buffer holds this much at least
	minRead   = 16 << 10  // with less room than this left, more starts a fresh buffer
)

// elemReader reads a streamed JSON array element by element, so that a response
// of any length passes in the memory of the elements not yet handed on.
// nextElem decodes each customer straight from the read buffer (one pass over
// the bytes, no copy); an element that does not decode is delimited by element,
// a splitter that only tracks strings and nesting, and reported on its own.
type elemReader struct {
	r          io.Reader
	buf        []byte
	start, end int // buf[start:end] is read but not consumed
	state      int // 0 before '[', 1 want element or ']', 2 want ',' or ']', 3 done
	eof        bool
	first      bool // no element yet
}

// newElemReader reads r, whose length is size when the server declared it
// (else -1): a short body, such as the empty page that ends every scan and
// every idle poll, gets a read buffer of its length and minRead, not one of
// chunkSize, which thousands of companies polled would otherwise allocate
// and drop every interval.
func newElemReader(r io.Reader, size int64) *elemReader {
	n := chunkSize
	if size >= 0 && size < chunkSize-minRead {
		n = int(size) + minRead
	}
	return &elemReader{r: r, buf: make([]byte, n), first: true}
}

// more reads more input, keeping buf[start:end]; false at the end of input.
//
// Bytes of buf before end are never written again: customers decoded in place
// (nextElem) keep strings that point into them. When too little room is left, the
// unconsumed tail moves to a fresh buffer instead of to the front of this one.
func (e *elemReader) more() (bool, error) {
	if e.eof {
		return false, nil
	}
	if len(e.buf)-e.end < minRead {
		keep := e.end - e.start
		if keep >= maxElement {
			return false, fmt.Errorf("%w: %w", ErrMalformedResponse, errElementTooLarge)
		}
		nb := make([]byte, max(chunkSize, 2*keep))
		e.end = copy(nb, e.buf[e.start:e.end])
		e.buf, e.start = nb, 0
	}
	for {
		n, err := e.r.Read(e.buf[e.end:])
		e.end += n
		if err == io.EOF {
			e.eof = true
			return n > 0, nil
		}
		if err != nil {
			return n > 0, err
		}
		if n > 0 {
			return true, nil
		}
	}
}

// skipWS consumes white space and returns the next byte, reading as needed.
func (e *elemReader) skipWS() (byte, error) {
	for {
		for e.start < e.end {
			switch c := e.buf[e.start]; c {
			case ' ', '\t', '\n', '\r':
				e.start++
			default:
				return c, nil
			}
		}
		ok, err := e.more()
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, io.ErrUnexpectedEOF
		}
	}
}

var (
	errTruncated       = errors.New("body ends before the JSON array does (truncated)")
	errElementTooLarge = fmt.Errorf("an element is larger than %d bytes", maxElement)
)

// truncated wraps a read error: the body ended or broke before the array did.
// The cause stays in the chain, for the page's retry to tell its kind.
func truncated(err error) error {
	if errors.Is(err, ErrMalformedResponse) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", ErrMalformedResponse, errTruncated)
	}
	return fmt.Errorf("%w: reading body: %w", ErrMalformedResponse, err)
}

// nextElem decodes the next element into *c, which must be zero, or returns
// io.EOF after the closing ']'. A customer is decoded in place: its strings
// point into the read buffer, which is never overwritten. Only when that fails
// (a broken record, or one that runs past the bytes read so far) is the element
// delimited first and decoded alone. An element that does not decode leaves *c
// zero and returns its RecordError in the elemInfo.
func (e *elemReader) nextElem(c *schema.Customer) (elemInfo, error) {
	if err := e.advance(); err != nil {
		return elemInfo{}, err
	}
	if e.buf[e.start] == '{' {
		d := decoder{s: e.text(), i: e.start}
		if d.record(c) == nil {
			e.start = d.i
			e.first = false
			e.state = 2
			return elemInfo{}, nil
		}
	}
	return e.delimitThenDecode(c, false)
}

// nextLazy is nextElem for a row expected to repeat one handed on already: it
// reads only the customer's Id and Version into *c and keeps the raw element
// (see elemInfo). A row whose identity cannot be read is decoded in full at once.
func (e *elemReader) nextLazy(c *schema.Customer) (elemInfo, error) {
	if err := e.advance(); err != nil {
		return elemInfo{}, err
	}
	if e.buf[e.start] == '{' {
		text := e.text()
		d := decoder{s: text, i: e.start}
		if id, idBytes, version, err := d.identity(); err == nil {
			raw := text[e.start:d.i]
			e.start = d.i
			e.first = false
			e.state = 2
			c.Id, c.IdBytes, c.Version = id, idBytes, version
			return elemInfo{lazy: raw}, nil
		}
	}
	return e.delimitThenDecode(c, true)
}

// delimitThenDecode finds the end of the element at start with the splitter,
// reading as much as it needs, and decodes the element alone into *c: only its
// identity if lazy and it has one, else in full.
func (e *elemReader) delimitThenDecode(c *schema.Customer, lazy bool) (elemInfo, error) {
	b, err := e.element()
	if err != nil {
		return elemInfo{}, err
	}
	e.first = false
	e.state = 2
	raw := unsafe.String(unsafe.SliceData(b), len(b))
	if lazy {
		d := decoder{s: raw}
		if id, idBytes, version, err := d.identity(); err == nil && d.i == len(raw) {
			c.Id, c.IdBytes, c.Version = id, idBytes, version
			return elemInfo{lazy: raw}, nil
		}
	}
	d := decoder{s: raw}
	if err := d.customer(c); err != nil {
		return elemInfo{rerr: recordError(raw, err)}, nil
	}
	return elemInfo{}, nil
}

// text is the buffer read so far as a string, without a copy: more never
// writes to buf[:end] again.
func (e *elemReader) text() string {
	return unsafe.String(unsafe.SliceData(e.buf), e.end)
}

// advance moves past the array's opening, separators and white space to the
// start of the next element, or returns io.EOF after the closing ']'.
func (e *elemReader) advance() error {
	for {
		switch e.state {
		case 3:
			return io.EOF
		case 0:
			c, err := e.skipWS()
			if err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) {
					return fmt.Errorf("%w: empty body", ErrMalformedResponse)
				}
				return truncated(err)
			}
			if c == 0xEF { // a UTF-8 byte order mark, as some .NET servers send
				for e.end-e.start < 3 {
					ok, err := e.more()
					if err != nil {
						return truncated(err)
					}
					if !ok {
						break
					}
				}
				if e.end-e.start >= 3 && string(e.buf[e.start:e.start+3]) == "\xEF\xBB\xBF" {
					e.start += 3
					continue
				}
			}
			if c != '[' {
				return fmt.Errorf("%w: not a JSON array, starts with %q", ErrMalformedResponse, e.preview())
			}
			e.start++
			e.state = 1
		case 2:
			c, err := e.skipWS()
			if err != nil {
				return truncated(err)
			}
			e.start++
			switch c {
			case ',':
				e.state = 1
			case ']':
				e.state = 3
				return e.trailer()
			default:
				return fmt.Errorf("%w: unexpected %q between elements", ErrMalformedResponse, c)
			}
		case 1:
			c, err := e.skipWS()
			if err != nil {
				return truncated(err)
			}
			if c == ']' && e.first {
				e.start++
				e.state = 3
				return e.trailer()
			}
			return nil
		}
	}
}

// trailer checks that only white space follows the array.
func (e *elemReader) trailer() error {
	for {
		for ; e.start < e.end; e.start++ {
			switch e.buf[e.start] {
			case ' ', '\t', '\n', '\r':
			default:
				return fmt.Errorf("%w: data after the JSON array", ErrMalformedResponse)
			}
		}
		ok, err := e.more()
		if err != nil {
			return truncated(err)
		}
		if !ok {
			return io.EOF
		}
	}
}

// element consumes one value starting at buf[start] and returns its bytes. It
// only tracks strings and nesting; the decoder validates the rest.
func (e *elemReader) element() ([]byte, error) {
	i := e.start
	depth := 0
	inStr := false
	scalar := e.buf[i] != '{' && e.buf[i] != '[' && e.buf[i] != '"'
	for {
		for ; i < e.end; i++ {
			if inStr {
				// Most of a record is string contents: jump to the next quote
				// (IndexByte is vectorised) instead of looking at every byte.
				j := bytes.IndexByte(e.buf[i:e.end], '"')
				if j < 0 {
					i = e.end
					break
				}
				i += j
				if escapedQuote(e.buf[e.start:i]) {
					continue
				}
				inStr = false
				if depth == 0 {
					i++
					return e.take(i), nil
				}
				continue
			}
			c := e.buf[i]
			if scalar {
				switch c {
				case ',', ']', ' ', '\t', '\n', '\r':
					return e.take(i), nil
				}
				continue
			}
			switch c {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					i++
					return e.take(i), nil
				}
			}
		}
		off := i - e.start
		ok, err := e.more()
		if err != nil {
			return nil, truncated(err)
		}
		if !ok {
			return nil, truncated(io.ErrUnexpectedEOF)
		}
		i = e.start + off
	}
}

// escapedQuote says whether the quote that follows b is escaped: preceded by an
// odd number of backslashes. b holds the element up to the quote, so a run of
// backslashes never reaches before the string's opening quote.
func escapedQuote(b []byte) bool {
	n := 0
	for k := len(b) - 1; k >= 0 && b[k] == '\\'; k-- {
		n++
	}
	return n%2 == 1
}

func (e *elemReader) take(i int) []byte {
	el := e.buf[e.start:i]
	e.start = i
	return el
}

// preview is the start of an unexpected body, for the error message.
func (e *elemReader) preview() string {
	b := e.buf[e.start:min(e.end, e.start+40)]
	for !utf8.Valid(b) && len(b) > 0 {
		b = b[:len(b)-1]
	}
	return string(b)
}

// DecodeResponse decodes a CustomerFull response body, a JSON array of customers,
// exactly as Scan does: streaming, each customer decoded in place as its bytes
// arrive, so that a body of any length needs a read buffer (256 KB, more only
// for a larger record) besides the customers fn keeps. fn receives each element
// in order, either a Customer or the RecordError of an element that does not
// decode (the decoding goes on after it); an error from fn stops the decoding
// and is returned as is. A body that is not one complete JSON array returns an
// error wrapping ErrMalformedResponse. A Customer's strings keep alive the read
// buffer they were decoded from: copy what is kept for long.
func DecodeResponse(body io.Reader, fn func(schema.Customer, *RecordError) error) error {
	er := newElemReader(body, -1)
	var c schema.Customer
	for {
		c = schema.Customer{}
		in, err := er.nextElem(&c)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(c, in.rerr); err != nil {
			return err
		}
	}
}
