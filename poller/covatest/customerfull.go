package covatest

import (
	"bufio"
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// iQmetrix CRM paging: $top defaults to 50, and values outside 0-100 become 100.
const (
	defaultTop = 50
	maxTop     = 100
)

// page is a successful CustomerFull answer: pre-rendered records to join into a
// JSON array.
type page struct {
	parts  [][]byte
	cut    int  // index of the record cut in half (TruncateNext); -1 for none
	clean  bool // end the response cleanly after the cut (a half array), not by dropping the connection
	reset  bool // send the headers only, then reset the connection
	delay  time.Duration
	header http.Header
}

func (s *Simulator) serveCustomerFull(w http.ResponseWriter, r *http.Request, companyID int64) {
	s.mu.Lock()
	s.inFlight++
	s.stats.MaxInFlight = max(s.stats.MaxInFlight, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	if d := s.delay(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			s.mu.Lock()
			s.stats.Abandoned++
			s.mu.Unlock()
			return
		}
	}
	s.mu.Lock()
	now := s.now()
	rep, pg := s.customerFullLocked(r, companyID, now)
	s.mu.Unlock()
	if rep != nil {
		s.writeReply(w, now, rep)
		return
	}
	if pg.delay > 0 {
		t := time.NewTimer(pg.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	s.writePage(w, r, now, pg)
}

// customerFullLocked decides the answer: a reply, or a page to stream.
func (s *Simulator) customerFullLocked(r *http.Request, companyID int64, now time.Time) (rep *reply, pg *page) {
	s.stats.CustomerFullRequests++
	s.received.add(now)
	s.maxMinute = max(s.maxMinute, s.received.count(now))
	defer func() {
		if rep != nil {
			s.stats.ByStatus[rep.code]++
		} else {
			s.stats.ByStatus[http.StatusOK]++
		}
	}()
	if rep := s.rateLimitLocked(now); rep != nil {
		return rep, nil
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return messageReply(http.StatusMethodNotAllowed, "The requested resource does not support http method '"+r.Method+"'."), nil
	}
	if !s.authorizedLocked(r, now) {
		return unauthorized(), nil
	}
	rep, st := s.scriptLocked(r, now)
	if rep != nil {
		return rep, nil
	}
	if rep := s.hazardLocked(); rep != nil {
		return rep, nil
	}
	c := s.companyLocked(companyID, false)
	if c == nil {
		return messageReply(http.StatusNotFound, "Resource cannot be found"), nil
	}
	since, skip, top, rep := parseQuery(r.URL.RawQuery)
	if rep != nil {
		return rep, nil
	}
	if skip > 0 {
		s.betweenPagesLocked(c, toTicks(now))
	}
	rows := s.matchingLocked(c, since)
	if !s.hz.IgnorePaging {
		rows = rows[min(skip, len(rows)):min(skip+top, len(rows))]
	}
	pg = &page{parts: make([][]byte, len(rows)), cut: -1, delay: st.delay}
	complete := len(rows)
	switch {
	case st.kind == FaultReset:
		pg.reset, complete = true, 0
	case st.kind == FaultTruncate || st.kind == FaultHalfArray:
		pg.cut, pg.clean = len(rows)/2, st.kind == FaultHalfArray
		complete = pg.cut
	case s.hz.ResetNext > 0:
		s.hz.ResetNext--
		pg.reset, complete = true, 0
	case s.hz.TruncateNext > 0:
		s.hz.TruncateNext--
		pg.cut = len(rows) / 2
		complete = pg.cut
	}
	for i, row := range rows {
		pg.parts[i] = row.json
	}
	if !s.cfg.NoServedLog {
		for _, row := range rows[:complete] {
			v := row.version
			if row.raw {
				v = 0
			}
			c.served = append(c.served, Served{CompanyID: companyID, ID: row.id, Version: v})
		}
	}
	s.stats.RowsServed += complete
	pg.header = s.rateLimitHeadersLocked(now)
	return nil, pg
}

// parseQuery reads $filter (required), $skip and $top; other options are ignored
// as the service ignores options it does not document.
func parseQuery(raw string) (since int64, skip, top int, rep *reply) {
	bad := func(msg string) (int64, int, int, *reply) {
		return 0, 0, 0, messageReply(http.StatusBadRequest, "The query specified in the URI is not valid. "+msg)
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return bad("The query string could not be parsed.")
	}
	filters := q["$filter"]
	if len(filters) != 1 {
		return bad("Exactly one $filter is required: LastModifiedDateUtc ge datetime'yyyy-mm-ddThh:mm:ss'.")
	}
	since, err = parseFilter(filters[0])
	if err != nil {
		return bad("Syntax error in $filter '" + filters[0] + "'.")
	}
	top = defaultTop
	if v, ok := q["$top"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v[0]))
		if err != nil || len(v) > 1 {
			return bad("Invalid value '" + strings.Join(v, ",") + "' for $top query option found.")
		}
		if n < 0 || n > maxTop {
			n = maxTop
		}
		top = n
	}
	if v, ok := q["$skip"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v[0]))
		if err != nil || n < 0 || len(v) > 1 {
			return bad("Invalid value '" + strings.Join(v, ",") + "' for $skip query option found.")
		}
		skip = n
	}
	return since, skip, top, nil
}

// acceptsGzip reports whether Accept-Encoding allows gzip (and not with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// writePage streams the records in 64 KiB chunks: a million-row response is never
// built as one buffer.
func (s *Simulator) writePage(w http.ResponseWriter, r *http.Request, now time.Time, pg *page) {
	h := w.Header()
	for k, v := range pg.header {
		h[k] = v
	}
	s.setDate(w, now)
	h.Set("Content-Type", "application/json; charset=utf-8")
	gz := s.cfg.Gzip && acceptsGzip(r)
	if gz {
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
	} else {
		h.Set("Content-Length", strconv.Itoa(pg.size()))
	}
	if pg.reset {
		resetAfterHeaders(w)
		return
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	var out io.Writer = w
	var zw *gzip.Writer
	if gz {
		zw, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
		out = zw
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	abort := func() {
		_ = bw.Flush()
		if zw != nil {
			_ = zw.Flush()
		}
		_ = http.NewResponseController(w).Flush()
		// Closes the connection mid-body, as a dropped connection or a server
		// crash would; net/http does not log this panic.
		panic(http.ErrAbortHandler)
	}
	_ = bw.WriteByte('[')
	for i, p := range pg.parts {
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		if i == pg.cut {
			_, _ = bw.Write(p[:len(p)/2])
			break
		}
		if _, err := bw.Write(p); err != nil {
			return // the client went away
		}
	}
	if pg.cut >= 0 && !pg.clean { // an empty page: "[" and nothing more
		abort()
	}
	if pg.cut < 0 {
		_ = bw.WriteByte(']')
	}
	if bw.Flush() == nil && zw != nil {
		_ = zw.Close()
	}
}

// size is the Content-Length of the page: the whole array (so that a client
// sees a dropped connection as a short body), or for a clean cut what precedes
// the cut.
func (pg *page) size() int {
	if pg.cut < 0 || !pg.clean {
		size := 2 + max(0, len(pg.parts)-1)
		for _, p := range pg.parts {
			size += len(p)
		}
		return size
	}
	size := 1 + pg.cut // "[" and a comma before each record up to the cut one
	for _, p := range pg.parts[:pg.cut] {
		size += len(p)
	}
	if pg.cut < len(pg.parts) { // else an empty page: "[" alone
		size += len(pg.parts[pg.cut]) / 2
	}
	return size
}
