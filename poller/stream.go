package poller

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// maxElement bounds one customer record; a larger one means a broken response.
const maxElement = 16 << 20

// elemReader splits a streamed JSON array into its elements without decoding
// them, so that a response of any length passes in the memory of one element.
// Each element is then decoded on its own by DecodeCustomer's decoder.
type elemReader struct {
	r          io.Reader
	buf        []byte
	start, end int // buf[start:end] is read but not consumed
	state      int // 0 before '[', 1 want element or ']', 2 want ',' or ']', 3 done
	eof        bool
	first      bool // no element yet
}

func newElemReader(r io.Reader) *elemReader {
	return &elemReader{r: r, buf: make([]byte, 32<<10), first: true}
}

// more reads more input, keeping buf[start:end]; false at the end of input.
func (e *elemReader) more() (bool, error) {
	if e.eof {
		return false, nil
	}
	if e.start > 0 {
		e.end = copy(e.buf, e.buf[e.start:e.end])
		e.start = 0
	}
	if e.end == len(e.buf) {
		if len(e.buf) >= maxElement {
			return false, fmt.Errorf("%w: an element is larger than %d bytes", ErrMalformedResponse, maxElement)
		}
		nb := make([]byte, 2*len(e.buf))
		copy(nb, e.buf[:e.end])
		e.buf = nb
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

// truncated wraps a read error: the body ended or broke before the array did.
func truncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: body ends before the JSON array does (truncated)", ErrMalformedResponse)
	}
	return fmt.Errorf("%w: reading body: %v", ErrMalformedResponse, err)
}

// next returns the next element's bytes, valid until the next call, or io.EOF
// after the closing ']'.
func (e *elemReader) next() ([]byte, error) {
	for {
		switch e.state {
		case 3:
			return nil, io.EOF
		case 0:
			c, err := e.skipWS()
			if err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) {
					return nil, fmt.Errorf("%w: empty body", ErrMalformedResponse)
				}
				return nil, truncated(err)
			}
			if c == 0xEF { // a UTF-8 byte order mark, as some .NET servers send
				if e.end-e.start < 3 {
					if _, err := e.more(); err != nil {
						return nil, truncated(err)
					}
				}
				if e.end-e.start >= 3 && string(e.buf[e.start:e.start+3]) == "\xEF\xBB\xBF" {
					e.start += 3
					continue
				}
			}
			if c != '[' {
				return nil, fmt.Errorf("%w: not a JSON array, starts with %q", ErrMalformedResponse, e.preview())
			}
			e.start++
			e.state = 1
		case 2:
			c, err := e.skipWS()
			if err != nil {
				return nil, truncated(err)
			}
			e.start++
			switch c {
			case ',':
				e.state = 1
			case ']':
				e.state = 3
				return nil, e.trailer()
			default:
				return nil, fmt.Errorf("%w: unexpected %q between elements", ErrMalformedResponse, c)
			}
		case 1:
			c, err := e.skipWS()
			if err != nil {
				return nil, truncated(err)
			}
			if c == ']' && e.first {
				e.start++
				e.state = 3
				return nil, e.trailer()
			}
			el, err := e.element()
			if err != nil {
				return nil, err
			}
			e.first = false
			e.state = 2
			return el, nil
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
