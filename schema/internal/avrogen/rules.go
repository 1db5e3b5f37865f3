package main

// The rules below say what Go needs of a field that its Avro type alone cannot
// say. They live here rather than as attributes in the .avsc because the .avsc
// is a public contract, registered in Schema Registries and read by consumers in
// other languages, and these are facts about covacdc's Go code and about Cova's
// JSON, not about the events. A plain field (string, long or boolean, nullable
// or not) needs no rule: adding one to the .avsc and running go generate is all
// the Go side needs. A rule naming a field the .avsc does not have, or a type
// it does not fit, fails the generation.

// special is a Go representation other than the Avro type's plain one.
type special int

const (
	plain special = iota
	// timestamp: a string holding a Cova date-time; Go holds a Timestamp, the
	// text exactly as sent and the instant it names. The event carries the text.
	timestamp
	// guid: a required string holding a Cova GUID; Go keeps the text as sent and
	// adds <Name>Bytes, its 16 bytes. The event carries the text.
	guid
	// uuid: a required string holding a UUID in text form; Go holds a UUID, its
	// 16 bytes. The event carries the text.
	uuid
	// rawJSON: a nullable array of strings whose elements Cova sends as JSON
	// values of no published schema; Go keeps each element as its raw JSON and
	// the event carries its text (a JSON string's value, any other value's JSON).
	rawJSON
	// pointer: a required record Go holds by pointer, so that an event refers to
	// the customer the poller decoded instead of copying it per event. The
	// encoder refuses nil.
	pointer
)

// covaJSON is a way Cova's JSON for a field differs from the field's Avro type,
// which the poller tolerates.
type covaJSON int

const (
	// The zero covaJSON is JSON as the field's Avro type says: no tolerance.
	_ covaJSON = iota
	// numberOrString: a nullable string Cova sometimes sends as a JSON number;
	// the number's JSON text is kept.
	numberOrString
	// emptyObjectIsNull: Cova's help page renders an unknown type as {}; it reads
	// as null.
	emptyObjectIsNull
)

// rule is what the generator needs to know of one field beyond the .avsc.
type rule struct {
	special special
	json    covaJSON
	// missing is the RecordError reason of a Cova record without this required
	// field; the default is "missing_" and the field name in snake case.
	missing string
}

// covaRecord names the record that is Cova's own: the poller decodes the JSON
// of Cova's CustomerFull endpoint into it (and into the records it holds), and
// its Go type counts the JSON fields it does not know in UnknownFields.
const covaRecord = "Customer"

// rules are keyed by "<record name>.<field name>".
var rules = map[string]rule{
	"CustomerChanged.customer":      {special: pointer},
	"CustomerChanged.eventId":       {special: uuid},
	"Customer.Id":                   {special: guid},
	"Customer.DateOfBirth":          {special: timestamp},
	"Customer.LastModifiedDateUtc":  {special: timestamp, missing: "missing_last_modified"},
	"Customer.RelatedCustomers":     {special: rawJSON},
	"Customer.MemberOf":             {special: rawJSON},
	"Customer.Documents":            {special: rawJSON},
	"Customer.MergedCustomers":      {special: rawJSON},
	"Customer.PricingGroupId":       {json: emptyObjectIsNull},
	"Customer.MergedIntoCustomerId": {json: emptyObjectIsNull},
	"Address.Zip":                   {json: numberOrString},
}
