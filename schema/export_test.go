package schema

// Fixtures for the external tests (package schema_test), which may import the
// poller: it imports this package.
var (
	TypicalCustomer = typicalCustomer
	EventOf         = eventOf
)
