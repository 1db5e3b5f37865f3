package poller

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// odataTime is the OData v3 datetime literal Cova accepts: UTC with 7 fraction digits.
const odataTime = "2006-01-02T15:04:05.0000000Z"

// customerFullURL is
//
//	{base}/v1/Companies({id})/CustomerFull?$filter=LastModifiedDateUtc ge datetime'...'&$top=N&$skip=M
//
// with the filter value percent-encoded (spaces as %20, not "+", which some
// OData servers read literally).
func customerFullURL(base string, companyID int64, since time.Time, top, skip int) string {
	filter := "LastModifiedDateUtc ge datetime'" + since.UTC().Format(odataTime) + "'"
	var b strings.Builder
	b.WriteString(strings.TrimRight(base, "/"))
	b.WriteString("/v1/Companies(")
	b.WriteString(strconv.FormatInt(companyID, 10))
	b.WriteString(")/CustomerFull?$filter=")
	b.WriteString(strings.ReplaceAll(url.QueryEscape(filter), "+", "%20"))
	b.WriteString("&$top=")
	b.WriteString(strconv.Itoa(top))
	b.WriteString("&$skip=")
	b.WriteString(strconv.Itoa(skip))
	return b.String()
}
