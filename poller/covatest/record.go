package covatest

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// A customer is built from its seed and Version alone, so the simulator keeps only
// the rendered JSON of each customer and rebuilds the rest when it changes: a
// million customers cost their JSON and little more.

// nstr is a string that may be JSON null.
type nstr struct {
	s     string
	valid bool
}

func str(s string) nstr { return nstr{s: s, valid: true} }

var null nstr

type address struct {
	addressLine1, addressLine2, city, stateName, countryName nstr
	zip                                                      int64 // < 0: null
	id, customerID                                           string
	addressTypeID                                            int
	addressType                                              nstr
	isDefault, doNotContact                                  bool
	countryCode, country, locality, stateCode, state         nstr
	postalCode, poBox, street1, notes, street2               nstr
	version                                                  int
	attentionTo, phone, email                                nstr
}

type contactMethod struct {
	value                   nstr
	id, customerID          string
	categoryID              int
	category                nstr
	typeID                  int
	typ                     nstr
	doNotContact, isDefault bool
	notes                   nstr
	version                 int
}

type extension struct {
	value          string // always a string
	id, customerID string
	typeID         int
	typ, feature   nstr
	version        int
}

type customer struct {
	addresses                              []address
	contacts                               []contactMethod
	extensions                             []extension
	related, memberOf, documents, merged   []string // raw JSON elements
	primaryName, title, alternateName      nstr
	middleName, familyName, referralSource nstr
	notes, uniqueIdentifier                nstr
	id                                     string
	customerTypeID                         int
	customerType                           nstr
	dob                                    int64 // ticks; valid when hasDOB
	hasDOB                                 bool
	pricingGroup                           string // raw JSON: null, an integer or {}
	disabled, doNotContact                 bool
	version                                int64
	mergedInto                             string // raw JSON: null, a GUID or {}
	lastModified                           int64  // ticks
}

var (
	firstNames = []string{"Olivia", "Liam", "Emma", "Noah", "Ava", "William", "Sophia", "James", "Isabella", "Benjamin",
		"Mia", "Lucas", "Charlotte", "Henry", "Amelia", "Alexander", "Harper", "Mason", "Evelyn", "Ethan", "Chloé",
		"Zoë", "José", "Siobhán", "Mateo", "Priya", "Wei", "Aarav", "Fatima", "Nguyễn", "O'Brien", "Renée"}
	familyNames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martin",
		"Tremblay", "Roy", "Gagnon", "Lee", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "White",
		"Singh", "Chen", "Nguyen", "MacDonald", "O'Neil", "Côté", "Bouchard", "Kowalski", "Müller", "Patel"}
	titles    = []string{"Mr.", "Mrs.", "Ms.", "Dr.", "Mx."}
	referrals = []string{"Walk-in", "Google", "Friend", "Instagram", "Radio", "Flyer", "Returning customer"}
	streets   = []string{"Main St", "Granville St", "Robson St", "Yonge St", "Jasper Ave", "17th Ave SW", "Pike St", "Colfax Ave", "Broadway", "Queen St W", "Burrard St", "Elm St"}
	notesPool = []string{"Prefers morning pickups", "Medical patient", "VIP", "Ask about loyalty card", "Allergic to latex gloves", "Line one\nline two", "Said \"call me later\"", "Tab\there", "Backslash \\ in note"}
	extTypes  = []struct {
		id            int
		name, feature string
		gen           func(r *rand.Rand) string
	}{
		{7, "CardNumber", "Dispensary", func(r *rand.Rand) string { return digits(r, 16) }},
		{3, "LoyaltyPoints", "Loyalty", func(r *rand.Rand) string { return strconv.Itoa(r.IntN(5000)) }},
		{9, "MedicalLicense", "Dispensary", func(r *rand.Rand) string { return "ML-" + digits(r, 8) }},
		{12, "DriverLicense", "", func(r *rand.Rand) string { return digits(r, 9) }},
		{15, "MarketingOptIn", "Marketing", func(r *rand.Rand) string { return strconv.FormatBool(r.IntN(2) == 0) }},
	}
	places = []place{
		{"Vancouver", "British Columbia", "BC", "Canada", "CA", false},
		{"Calgary", "Alberta", "AB", "Canada", "CA", false},
		{"Toronto", "Ontario", "ON", "Canada", "CA", false},
		{"Winnipeg", "Manitoba", "MB", "Canada", "CA", false},
		{"Seattle", "Washington", "WA", "United States", "US", true},
		{"Denver", "Colorado", "CO", "United States", "US", true},
		{"Portland", "Oregon", "OR", "United States", "US", true},
		{"Boston", "Massachusetts", "MA", "United States", "US", true},
	}
)

// place is where a customer lives; zip marks US zip codes (a number) as against
// Canadian postal codes.
type place struct {
	city, state, stateCode, country, countryCode string
	zip                                          bool
}

func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func pick(r *rand.Rand, s []string) string { return s[r.IntN(len(s))] }

// maybe returns s, or (rarely) null or "": Cova documents no nullability, and
// real records have both.
func maybe(r *rand.Rand, s string, pNull, pEmpty int) nstr {
	n := r.IntN(100)
	switch {
	case n < pNull:
		return null
	case n < pNull+pEmpty:
		return str("")
	}
	return str(s)
}

// count draws 0-3 with several elements on most customers.
func count(r *rand.Rand) int {
	n := r.IntN(100)
	switch {
	case n < 10:
		return 0
	case n < 40:
		return 1
	case n < 80:
		return 2
	}
	return 3
}

// generator is a reseedable random source: one per rendering goroutine, so
// building a customer allocates no generator.
type generator struct {
	pcg *rand.PCG
	r   *rand.Rand
}

func newGenerator() *generator {
	pcg := rand.NewPCG(0, 0)
	return &generator{pcg: pcg, r: rand.New(pcg)}
}

// stream reseeds the generator for one customer's seed and one of its streams
// (0 for the customer as created, v for the change that made Version v).
func (g *generator) stream(seed, stream uint64) *rand.Rand {
	g.pcg.Seed(seed, stream)
	return g.r
}

// buildCustomer makes the customer of this seed at this Version.
func buildCustomer(g *generator, seed uint64, id string, version int64, lastModified int64) customer {
	r := g.stream(seed, 0)
	first, family := pick(r, firstNames), pick(r, familyNames)
	c := customer{
		id:             id,
		version:        version,
		lastModified:   lastModified,
		primaryName:    maybe(r, first, 2, 1),
		title:          maybe(r, pick(r, titles), 60, 15),
		alternateName:  maybe(r, first[:1]+". "+family, 70, 15),
		middleName:     maybe(r, pick(r, firstNames), 50, 25),
		familyName:     maybe(r, family, 3, 3),
		referralSource: maybe(r, pick(r, referrals), 40, 20),
		notes:          maybe(r, pick(r, notesPool), 50, 20),
		pricingGroup:   "null",
		mergedInto:     "null",
	}
	c.uniqueIdentifier = maybe(r, upperHex(r, 10), 20, 5)
	if r.IntN(10) == 0 {
		c.customerTypeID, c.customerType = 3, str("Company")
		c.primaryName = str(family + " Holdings")
	} else {
		c.customerTypeID, c.customerType = 2, str("Person")
	}
	if r.IntN(100) < 70 {
		// A DateOfBirth with the odd minute real records show ("1955-01-20T00:01:00").
		dob := time.Date(2007, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(-r.IntN(70), 0, -r.IntN(365))
		c.dob, c.hasDOB = toTicks(dob)+int64(r.IntN(2))*60*ticksPerSecond, true
	}
	switch n := r.IntN(100); {
	case n < 20:
		c.pricingGroup = strconv.Itoa(1 + r.IntN(12))
	case n < 21:
		c.pricingGroup = "{}" // as in the help page's sample
	}
	switch n := r.IntN(200); {
	case n < 2:
		c.mergedInto = `"` + newGUID(r) + `"`
	case n < 3:
		c.mergedInto = "{}"
	}
	c.doNotContact = r.IntN(10) == 0
	c.related, c.memberOf, c.documents, c.merged = objects(r, `{}`), objects(r, `{}`), objects(r, `{}`), objects(r, "")

	place := places[r.IntN(len(places))]
	for i := range count(r) {
		c.addresses = append(c.addresses, makeAddress(r, id, i, first+" "+family, place))
	}
	for i := range count(r) {
		c.contacts = append(c.contacts, makeContact(r, id, i, first, family))
	}
	for i := range count(r) {
		e := extTypes[r.IntN(len(extTypes))]
		c.extensions = append(c.extensions, extension{
			value: e.gen(r), id: newGUID(r), customerID: id, typeID: e.id,
			typ: str(e.name), feature: maybe(r, e.feature, 10, 0), version: 1 + r.IntN(3),
		})
		if e.feature == "" {
			c.extensions[i].feature = null
		}
	}
	for v := int64(2); v <= version; v++ {
		c.change(g.stream(seed, uint64(v)), v, first, family, place)
	}
	return c
}

// objects is usually empty and occasionally holds a GUID string or an object:
// the element schemas of these collections are published nowhere.
func objects(r *rand.Rand, obj string) []string {
	switch n := r.IntN(100); {
	case n < 2:
		return []string{`"` + newGUID(r) + `"`}
	case n < 3 && obj != "":
		return []string{obj, obj}
	}
	return nil
}

func upperHex(r *rand.Rand, n int) string {
	const h = "0123456789ABCDEF"
	b := make([]byte, n)
	for i := range b {
		b[i] = h[r.IntN(16)]
	}
	return string(b)
}

func makeAddress(r *rand.Rand, customerID string, i int, name string, p place) address {
	street := strconv.Itoa(100+r.IntN(9900)) + " " + pick(r, streets)
	postal := ""
	zip := int64(-1)
	if p.zip {
		z := 1000 + r.IntN(98000)
		zip = int64(z)
		postal = strconv.Itoa(100000 + z)[1:] // keeps the leading zero the number loses
	} else {
		postal = string(rune('A'+r.IntN(26))) + digits(r, 1) + string(rune('A'+r.IntN(26))) + " " +
			digits(r, 1) + string(rune('A'+r.IntN(26))) + digits(r, 1)
		if r.IntN(2) == 0 {
			zip = 0 // the int Zip column of a Canadian address
		}
	}
	legacy := r.IntN(3) == 0 // older records carry the legacy AddressLine/City/StateName columns
	a := address{
		addressLine1: null, addressLine2: null, city: null, stateName: null, countryName: null,
		zip: zip, id: newGUID(r), customerID: customerID,
		addressTypeID: 1 + r.IntN(3), isDefault: i == 0, doNotContact: r.IntN(20) == 0,
		countryCode: str(p.countryCode), country: str(p.country), locality: str(p.city),
		stateCode: str(p.stateCode), state: str(p.state), postalCode: maybe(r, postal, 3, 3),
		poBox: maybe(r, digits(r, 4), 85, 10), street1: maybe(r, street, 2, 2),
		notes: maybe(r, "Buzz #"+digits(r, 3), 70, 20), street2: maybe(r, "Unit "+digits(r, 3), 60, 25),
		version: 1 + r.IntN(4), attentionTo: maybe(r, name, 60, 20),
		phone: maybe(r, phone(r), 50, 20), email: maybe(r, "", 80, 20),
	}
	a.addressType = str([]string{"", "Home", "Work", "Shipping"}[a.addressTypeID])
	if legacy {
		a.addressLine1, a.city, a.stateName, a.countryName = a.street1, str(p.city), str(p.state), str(p.country)
		a.addressLine2 = maybe(r, "", 50, 50)
	}
	return a
}

func phone(r *rand.Rand) string {
	return "(" + strconv.Itoa(200+r.IntN(800)) + ") " + digits(r, 3) + "-" + digits(r, 4)
}

func makeContact(r *rand.Rand, customerID string, i int, first, family string) contactMethod {
	cm := contactMethod{
		id: newGUID(r), customerID: customerID, doNotContact: r.IntN(15) == 0,
		isDefault: i == 0, notes: maybe(r, "Best after 5pm", 85, 10), version: 1 + r.IntN(3),
	}
	switch n := r.IntN(10); {
	case n < 5:
		cm.categoryID, cm.category = 1, str("Phone")
		cm.typeID, cm.typ = []int{1, 2, 3}[n%3], str([]string{"Home", "Work", "Mobile"}[n%3])
		cm.value = maybe(r, phone(r), 1, 3)
	case n < 9:
		cm.categoryID, cm.category = 2, str("Email")
		cm.typeID, cm.typ = 4+n%2, str([]string{"Personal", "Work"}[n%2])
		cm.value = maybe(r, lowerASCII(first)+"."+lowerASCII(family)+strconv.Itoa(r.IntN(100))+"@example.com", 1, 3)
	default:
		cm.categoryID, cm.category = 3, str("Social")
		cm.typeID, cm.typ = 7, maybe(r, "Instagram", 20, 10)
		cm.value = str("@" + lowerASCII(first) + digits(r, 2))
	}
	return cm
}

func lowerASCII(s string) string {
	b := make([]byte, 0, len(s))
	for _, c := range []byte(s) {
		switch {
		case 'A' <= c && c <= 'Z':
			b = append(b, c+'a'-'A')
		case 'a' <= c && c <= 'z':
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "x"
	}
	return string(b)
}

// change applies the modification that produced Version v: a field or two a
// store clerk would edit, and rarely a delete (Disabled) the CRM does instead of
// removing a customer.
func (c *customer) change(r *rand.Rand, v int64, first, family string, home place) {
	c.notes = str("Updated at visit " + strconv.FormatInt(v, 10))
	switch r.IntN(6) {
	case 0:
		c.familyName = str(pick(r, familyNames))
	case 1:
		if len(c.contacts) == 0 {
			c.contacts = append(c.contacts, makeContact(r, c.id, 0, first, family))
		} else {
			c.contacts[0].value = str(phone(r))
			c.contacts[0].version++
		}
	case 2:
		c.doNotContact = !c.doNotContact
	case 3:
		if len(c.addresses) < 3 {
			c.addresses = append(c.addresses, makeAddress(r, c.id, len(c.addresses), first+" "+family, home))
		} else {
			c.addresses[0].street1 = str(strconv.Itoa(100+r.IntN(9900)) + " " + pick(r, streets))
			c.addresses[0].version++
		}
	case 4:
		e := extTypes[1]
		c.extensions = append(c.extensions[:len(c.extensions):len(c.extensions)], extension{
			value: e.gen(r), id: newGUID(r), customerID: c.id, typeID: e.id, typ: str(e.name), feature: str(e.feature), version: 1,
		})
		if len(c.extensions) > 3 {
			c.extensions = c.extensions[1:]
		}
	case 5:
		if r.IntN(4) == 0 {
			c.disabled = true
		} else {
			c.primaryName = str(pick(r, firstNames))
		}
	}
}

// render appends the customer in the served field order.
func (c *customer) render(b []byte) []byte {
	b = append(b, `{"Addresses":[`...)
	for i := range c.addresses {
		if i > 0 {
			b = append(b, ',')
		}
		b = c.addresses[i].render(b)
	}
	b = append(b, `],"ContactMethods":[`...)
	for i := range c.contacts {
		if i > 0 {
			b = append(b, ',')
		}
		b = c.contacts[i].render(b)
	}
	b = append(b, `],"CustomerExtensions":[`...)
	for i := range c.extensions {
		if i > 0 {
			b = append(b, ',')
		}
		b = c.extensions[i].render(b)
	}
	b = appendRawList(append(b, `],"RelatedCustomers":`...), c.related)
	b = appendRawList(append(b, `,"MemberOf":`...), c.memberOf)
	b = appendRawList(append(b, `,"Documents":`...), c.documents)
	b = appendRawList(append(b, `,"MergedCustomers":`...), c.merged)
	b = appendNstr(append(b, `,"PrimaryName":`...), c.primaryName)
	b = appendNstr(append(b, `,"Title":`...), c.title)
	b = appendNstr(append(b, `,"AlternateName":`...), c.alternateName)
	b = appendNstr(append(b, `,"MiddleName":`...), c.middleName)
	b = appendNstr(append(b, `,"FamilyName":`...), c.familyName)
	b = appendNstr(append(b, `,"ReferralSource":`...), c.referralSource)
	b = appendNstr(append(b, `,"Notes":`...), c.notes)
	b = appendNstr(append(b, `,"UniqueIdentifier":`...), c.uniqueIdentifier)
	b = appendString(append(b, `,"Id":`...), c.id)
	b = strconv.AppendInt(append(b, `,"CustomerTypeId":`...), int64(c.customerTypeID), 10)
	b = appendNstr(append(b, `,"CustomerType":`...), c.customerType)
	b = append(b, `,"DateOfBirth":`...)
	if c.hasDOB {
		b = append(appendNetTime(append(b, '"'), c.dob), '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(append(b, `,"PricingGroupId":`...), c.pricingGroup...)
	b = strconv.AppendBool(append(b, `,"Disabled":`...), c.disabled)
	b = strconv.AppendBool(append(b, `,"DoNotContact":`...), c.doNotContact)
	b = strconv.AppendInt(append(b, `,"Version":`...), c.version, 10)
	b = append(append(b, `,"MergedIntoCustomerId":`...), c.mergedInto...)
	b = append(appendNetTime(append(b, `,"LastModifiedDateUtc":"`...), c.lastModified), '"')
	return append(b, '}')
}

func (a *address) render(b []byte) []byte {
	b = appendNstr(append(b, `{"AddressLine1":`...), a.addressLine1)
	b = appendNstr(append(b, `,"AddressLine2":`...), a.addressLine2)
	b = appendNstr(append(b, `,"City":`...), a.city)
	b = appendNstr(append(b, `,"StateName":`...), a.stateName)
	b = appendNstr(append(b, `,"CountryName":`...), a.countryName)
	b = append(b, `,"Zip":`...)
	if a.zip < 0 {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, a.zip, 10)
	}
	b = appendString(append(b, `,"Id":`...), a.id)
	b = appendString(append(b, `,"CustomerId":`...), a.customerID)
	b = strconv.AppendInt(append(b, `,"AddressTypeId":`...), int64(a.addressTypeID), 10)
	b = appendNstr(append(b, `,"AddressType":`...), a.addressType)
	b = strconv.AppendBool(append(b, `,"Default":`...), a.isDefault)
	b = strconv.AppendBool(append(b, `,"DoNotContact":`...), a.doNotContact)
	b = appendNstr(append(b, `,"CountryCode":`...), a.countryCode)
	b = appendNstr(append(b, `,"Country":`...), a.country)
	b = appendNstr(append(b, `,"Locality":`...), a.locality)
	b = appendNstr(append(b, `,"StateCode":`...), a.stateCode)
	b = appendNstr(append(b, `,"State":`...), a.state)
	b = appendNstr(append(b, `,"PostalCode":`...), a.postalCode)
	b = appendNstr(append(b, `,"PostOfficeBoxNumber":`...), a.poBox)
	b = appendNstr(append(b, `,"StreetAddress1":`...), a.street1)
	b = appendNstr(append(b, `,"Notes":`...), a.notes)
	b = appendNstr(append(b, `,"StreetAddress2":`...), a.street2)
	b = strconv.AppendInt(append(b, `,"Version":`...), int64(a.version), 10)
	b = appendNstr(append(b, `,"AttentionTo":`...), a.attentionTo)
	b = appendNstr(append(b, `,"Phone":`...), a.phone)
	b = appendNstr(append(b, `,"Email":`...), a.email)
	return append(b, '}')
}

func (m *contactMethod) render(b []byte) []byte {
	b = appendNstr(append(b, `{"Value":`...), m.value)
	b = appendString(append(b, `,"Id":`...), m.id)
	b = appendString(append(b, `,"CustomerId":`...), m.customerID)
	b = strconv.AppendInt(append(b, `,"ContactMethodCategoryId":`...), int64(m.categoryID), 10)
	b = appendNstr(append(b, `,"ContactMethodCategory":`...), m.category)
	b = strconv.AppendInt(append(b, `,"ContactMethodTypeId":`...), int64(m.typeID), 10)
	b = appendNstr(append(b, `,"ContactMethodType":`...), m.typ)
	b = strconv.AppendBool(append(b, `,"DoNotContact":`...), m.doNotContact)
	b = strconv.AppendBool(append(b, `,"Default":`...), m.isDefault)
	b = appendNstr(append(b, `,"Notes":`...), m.notes)
	b = strconv.AppendInt(append(b, `,"Version":`...), int64(m.version), 10)
	return append(b, '}')
}

func (e *extension) render(b []byte) []byte {
	b = appendString(append(b, `{"Value":`...), e.value)
	b = appendString(append(b, `,"Id":`...), e.id)
	b = appendString(append(b, `,"CustomerId":`...), e.customerID)
	b = strconv.AppendInt(append(b, `,"ExtensionTypeId":`...), int64(e.typeID), 10)
	b = appendNstr(append(b, `,"ExtensionType":`...), e.typ)
	b = appendNstr(append(b, `,"ExtensionTypeFeature":`...), e.feature)
	b = strconv.AppendInt(append(b, `,"Version":`...), int64(e.version), 10)
	return append(b, '}')
}

func appendRawList(b []byte, elems []string) []byte {
	b = append(b, '[')
	for i, e := range elems {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, ']')
}

func appendNstr(b []byte, s nstr) []byte {
	if !s.valid {
		return append(b, "null"...)
	}
	return appendString(b, s.s)
}

// appendString appends s as a JSON string. Non-ASCII text stays UTF-8 as ASP.NET
// Web API's Json.NET writes it; control characters are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			b = append(b, `\u00`...)
			b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
