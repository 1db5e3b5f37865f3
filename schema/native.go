package schema

import (
	"encoding/json"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/covacdc/covacdc/poller"
)

// This file builds goavro's native form of an event (maps, with every non-null
// union value wrapped in a one-key map). goavro's BinaryFromNative of this form is
// the reference encoding: the hand-written encoder in encode.go must produce the
// same bytes, which the tests check on golden and randomized customers.

// nativeEvent returns the goavro native form of ev; ev and ev.Customer are non-nil.
func nativeEvent(ev *Event) map[string]any {
	c := ev.Customer
	return map[string]any{
		"eventId":             EventID(ev.CompanyID, c.Id, c.Version),
		"changeType":          ev.ChangeType.String(),
		"companyId":           ev.CompanyID,
		"customerId":          c.Id,
		"version":             c.Version,
		"previousVersion":     optLong(ev.PreviousVersion),
		"lastModifiedDateUtc": c.LastModifiedDateUtc.Time,
		"capturedAt":          ev.CapturedAt,
		"source": map[string]any{
			"system":   ev.Source.System,
			"endpoint": ev.Source.Endpoint,
			"scanId":   ev.Source.ScanID,
		},
		"unknownFieldCount": clampInt32(c.UnknownFields),
		"customer":          nativeCustomer(c),
	}
}

func nativeCustomer(c *poller.Customer) map[string]any {
	m := make(map[string]any, 25)
	if c.Addresses != nil {
		a := make([]any, len(c.Addresses))
		for i := range c.Addresses {
			a[i] = nativeAddress(&c.Addresses[i])
		}
		m["Addresses"] = map[string]any{"array": a}
	} else {
		m["Addresses"] = nil
	}
	if c.ContactMethods != nil {
		a := make([]any, len(c.ContactMethods))
		for i := range c.ContactMethods {
			a[i] = nativeContactMethod(&c.ContactMethods[i])
		}
		m["ContactMethods"] = map[string]any{"array": a}
	} else {
		m["ContactMethods"] = nil
	}
	if c.CustomerExtensions != nil {
		a := make([]any, len(c.CustomerExtensions))
		for i := range c.CustomerExtensions {
			a[i] = nativeExtension(&c.CustomerExtensions[i])
		}
		m["CustomerExtensions"] = map[string]any{"array": a}
	} else {
		m["CustomerExtensions"] = nil
	}
	m["RelatedCustomers"] = optRawArray(c.RelatedCustomers)
	m["MemberOf"] = optRawArray(c.MemberOf)
	m["Documents"] = optRawArray(c.Documents)
	m["MergedCustomers"] = optRawArray(c.MergedCustomers)
	m["PrimaryName"] = optString(c.PrimaryName)
	m["Title"] = optString(c.Title)
	m["AlternateName"] = optString(c.AlternateName)
	m["MiddleName"] = optString(c.MiddleName)
	m["FamilyName"] = optString(c.FamilyName)
	m["ReferralSource"] = optString(c.ReferralSource)
	m["Notes"] = optString(c.Notes)
	m["UniqueIdentifier"] = optString(c.UniqueIdentifier)
	m["Id"] = c.Id
	m["CustomerTypeId"] = optLong(c.CustomerTypeId)
	m["CustomerType"] = optString(c.CustomerType)
	if c.DateOfBirth != nil {
		m["DateOfBirth"] = map[string]any{"string": c.DateOfBirth.Raw}
	} else {
		m["DateOfBirth"] = nil
	}
	m["PricingGroupId"] = optLong(c.PricingGroupId)
	m["Disabled"] = optBool(c.Disabled)
	m["DoNotContact"] = optBool(c.DoNotContact)
	m["Version"] = c.Version
	m["MergedIntoCustomerId"] = optString(c.MergedIntoCustomerId)
	m["LastModifiedDateUtc"] = c.LastModifiedDateUtc.Raw
	return m
}

func nativeAddress(a *poller.Address) map[string]any {
	return map[string]any{
		"AddressLine1":        optString(a.AddressLine1),
		"AddressLine2":        optString(a.AddressLine2),
		"City":                optString(a.City),
		"StateName":           optString(a.StateName),
		"CountryName":         optString(a.CountryName),
		"Zip":                 optString(a.Zip),
		"Id":                  optString(a.Id),
		"CustomerId":          optString(a.CustomerId),
		"AddressTypeId":       optLong(a.AddressTypeId),
		"AddressType":         optString(a.AddressType),
		"Default":             optBool(a.Default),
		"DoNotContact":        optBool(a.DoNotContact),
		"CountryCode":         optString(a.CountryCode),
		"Country":             optString(a.Country),
		"Locality":            optString(a.Locality),
		"StateCode":           optString(a.StateCode),
		"State":               optString(a.State),
		"PostalCode":          optString(a.PostalCode),
		"PostOfficeBoxNumber": optString(a.PostOfficeBoxNumber),
		"StreetAddress1":      optString(a.StreetAddress1),
		"Notes":               optString(a.Notes),
		"StreetAddress2":      optString(a.StreetAddress2),
		"Version":             optLong(a.Version),
		"AttentionTo":         optString(a.AttentionTo),
		"Phone":               optString(a.Phone),
		"Email":               optString(a.Email),
	}
}

func nativeContactMethod(m *poller.ContactMethod) map[string]any {
	return map[string]any{
		"Value":                   optString(m.Value),
		"Id":                      optString(m.Id),
		"CustomerId":              optString(m.CustomerId),
		"ContactMethodCategoryId": optLong(m.ContactMethodCategoryId),
		"ContactMethodCategory":   optString(m.ContactMethodCategory),
		"ContactMethodTypeId":     optLong(m.ContactMethodTypeId),
		"ContactMethodType":       optString(m.ContactMethodType),
		"DoNotContact":            optBool(m.DoNotContact),
		"Default":                 optBool(m.Default),
		"Notes":                   optString(m.Notes),
		"Version":                 optLong(m.Version),
	}
}

func nativeExtension(e *poller.CustomerExtension) map[string]any {
	return map[string]any{
		"Value":                optString(e.Value),
		"Id":                   optString(e.Id),
		"CustomerId":           optString(e.CustomerId),
		"ExtensionTypeId":      optLong(e.ExtensionTypeId),
		"ExtensionType":        optString(e.ExtensionType),
		"ExtensionTypeFeature": optString(e.ExtensionTypeFeature),
		"Version":              optLong(e.Version),
	}
}

// The opt helpers return nil for null or goavro's union wrapper around the value.
func optString(p *string) any {
	if p == nil {
		return nil
	}
	return map[string]any{"string": *p}
}

func optLong(p *int64) any {
	if p == nil {
		return nil
	}
	return map[string]any{"long": *p}
}

func optBool(p *bool) any {
	if p == nil {
		return nil
	}
	return map[string]any{"boolean": *p}
}

func optRawArray(raw []json.RawMessage) any {
	if raw == nil {
		return nil
	}
	a := make([]any, len(raw))
	for i, r := range raw {
		a[i] = rawElement(r)
	}
	return map[string]any{"array": a}
}

// rawElement is how an element of a collection Cova publishes no schema for is
// kept: a JSON string as its value, anything else as its JSON text. Avro strings
// are UTF-8, so invalid bytes (never produced by a JSON decoder) become U+FFFD.
func rawElement(r json.RawMessage) string {
	b := trimSpace(r)
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		inner := b[1 : len(b)-1]
		if !hasEscapeOrControl(inner) && utf8.Valid(inner) {
			return string(inner)
		}
		var s string
		if err := json.Unmarshal(b, &s); err == nil {
			return s
		}
	}
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(b)
}

func hasEscapeOrControl(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c < 0x20 {
			return true
		}
	}
	return false
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// clampInt32 keeps a count inside Avro's int.
func clampInt32(n int) int32 {
	switch {
	case n > math.MaxInt32:
		return math.MaxInt32
	case n < 0:
		return 0
	}
	return int32(n)
}
