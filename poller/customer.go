package poller

import (
	"encoding/json"
	"time"
)

// Customer is one Cova CRM customer as CustomerFull serves it, decoded tolerantly.
//
// Field names are Cova's own. A pointer field is nil when Cova sent null, or sent
// nothing at all; an empty string stays an empty string. The four collections whose
// element schema Cova never published keep each element as the raw JSON Cova sent;
// a nil slice means Cova sent null or omitted the field, an empty non-nil slice
// means it sent [].
//
// Id, Version and LastModifiedDateUtc are required: a record without them is not a
// Customer but a RecordError.
type Customer struct {
	Addresses          []Address
	ContactMethods     []ContactMethod
	CustomerExtensions []CustomerExtension
	RelatedCustomers   []json.RawMessage
	MemberOf           []json.RawMessage
	Documents          []json.RawMessage
	MergedCustomers    []json.RawMessage

	PrimaryName      *string
	Title            *string
	AlternateName    *string
	MiddleName       *string
	FamilyName       *string
	ReferralSource   *string
	Notes            *string
	UniqueIdentifier *string

	// Id is the customer's GUID exactly as Cova sent it; IdBytes is the same GUID
	// parsed into its 16 bytes (RFC 4122 byte order of the canonical text form),
	// the key state uses.
	Id      string
	IdBytes [16]byte

	CustomerTypeId *int64
	CustomerType   *string
	DateOfBirth    *Timestamp
	// PricingGroupId is an integer or null; the "{}" of the help page's sample reads as nil.
	PricingGroupId *int64
	Disabled       *bool
	DoNotContact   *bool
	// Version is Cova's revision number of the customer; it only grows.
	Version int64
	// MergedIntoCustomerId is a GUID (as sent) or null; "{}" reads as nil.
	MergedIntoCustomerId *string
	LastModifiedDateUtc  Timestamp

	// UnknownFields counts the JSON fields of this record (at any depth) that this
	// version of covacdc does not know. They are not kept.
	UnknownFields int
}

// Address is one element of Customer.Addresses.
type Address struct {
	AddressLine1 *string
	AddressLine2 *string
	City         *string
	StateName    *string
	CountryName  *string
	// Zip is the JSON text of a number (the help page renders it as one) or the
	// string Cova sent.
	Zip                 *string
	Id                  *string
	CustomerId          *string
	AddressTypeId       *int64
	AddressType         *string
	Default             *bool
	DoNotContact        *bool
	CountryCode         *string
	Country             *string
	Locality            *string
	StateCode           *string
	State               *string
	PostalCode          *string
	PostOfficeBoxNumber *string
	StreetAddress1      *string
	Notes               *string
	StreetAddress2      *string
	Version             *int64
	AttentionTo         *string
	Phone               *string
	Email               *string
}

// ContactMethod is one element of Customer.ContactMethods.
type ContactMethod struct {
	Value                   *string
	Id                      *string
	CustomerId              *string
	ContactMethodCategoryId *int64
	ContactMethodCategory   *string
	ContactMethodTypeId     *int64
	ContactMethodType       *string
	DoNotContact            *bool
	Default                 *bool
	Notes                   *string
	Version                 *int64
}

// CustomerExtension is one element of Customer.CustomerExtensions.
type CustomerExtension struct {
	Value                *string
	Id                   *string
	CustomerId           *string
	ExtensionTypeId      *int64
	ExtensionType        *string
	ExtensionTypeFeature *string
	Version              *int64
}

// Timestamp is a Cova date-time: the exact text Cova sent and the instant it names.
// Cova sends 0 to 7 fraction digits and a "Z", an offset or no zone at all; no zone
// means UTC.
type Timestamp struct {
	Raw  string
	Time time.Time // always in UTC
}

// RecordError is one element of a CustomerFull response that could not be decoded
// into a Customer (no Id, no Version, a wrong type, ...). Nothing is dropped: the
// raw JSON goes on to the dead-letter topic.
type RecordError struct {
	CompanyID int64
	Raw       json.RawMessage // the element exactly as served
	Reason    string          // short, bounded label for metrics: "missing_id", "missing_version", "bad_type", "bad_timestamp", ...
	Err       error
}

func (e *RecordError) Error() string { return e.Err.Error() }
func (e *RecordError) Unwrap() error { return e.Err }

// Batch is a run of consecutive decoded elements of one scan, handed on in the order
// served. A customer seen twice within a scan (page overlap, a re-read) is handed on
// once per distinct Version at most. Customers is valid until the function given
// the batch returns (see Client.Scan).
type Batch struct {
	CompanyID int64
	ScanID    string
	Customers []Customer
	Invalid   []RecordError
}
