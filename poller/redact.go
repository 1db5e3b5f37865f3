package poller

import (
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// redacted replaces a secret in an error or a log line.
const redacted = "[redacted]"

// redact replaces every occurrence of a secret in s, in whatever form a
// server may echo it: as is, URL-encoded (query or path escaping, any hex
// case), JSON-escaped (\uXXXX, \", \\, \/) or HTML-escaped (&amp;, &#34;,
// &#x2B;). Each character may be written in any of these forms, so mixes (a
// JSON encoder that escapes only some characters, a form echoed inside JSON)
// are found too. Empty secrets are ignored.
func redact(s string, secrets []string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		end := -1
		for _, sec := range secrets {
			if e, ok := matchSecret(s, i, sec); ok && e > end {
				end = e
			}
		}
		if end < 0 {
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(redacted)
		last = end
		i = end - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// matchSecret reports whether s holds a form of sec at i, and where it ends.
// Some characters start both themselves and an escape ('&', '\\', '%'), so it
// follows every way of reading s (at most a few), not only the first.
func matchSecret(s string, i int, sec string) (int, bool) {
	if sec == "" {
		return 0, false
	}
	var bufA, bufB [4]int
	at, spare := append(bufA[:0], i), bufB[:0]
	for _, r := range sec {
		next := spare[:0]
		for _, p := range at {
			lit, esc := matchRune(s[p:], r)
			for _, n := range [2]int{lit, esc} {
				if n > 0 && len(next) < cap(next) && !slices.Contains(next, p+n) {
					next = append(next, p+n)
				}
			}
		}
		if len(next) == 0 {
			return 0, false
		}
		at, spare = next, at
	}
	return slices.Max(at), true
}

// matchRune returns how many bytes at the start of s spell r as itself (lit)
// and in one of the escaped forms redact knows (esc); 0 for none.
func matchRune(s string, r rune) (lit, esc int) {
	var enc [utf8.UTFMax]byte
	b := enc[:utf8.EncodeRune(enc[:], r)]
	if strings.HasPrefix(s, string(b)) {
		lit = len(b)
	}
	if s == "" {
		return lit, 0
	}
	switch s[0] {
	case '+':
		if r == ' ' {
			esc = 1
		}
	case '%': // percent-encoding of each UTF-8 byte
		n := 0
		for _, c := range b {
			if len(s) < n+3 || s[n] != '%' || hexByte(s[n+1:n+3]) != int(c) {
				return lit, 0
			}
			n += 3
		}
		esc = n
	case '\\':
		esc = matchJSONEscape(s, r)
	case '&':
		esc = matchHTMLEscape(s, r)
	}
	return lit, esc
}

// matchJSONEscape matches a JSON escape of r at the start of s.
func matchJSONEscape(s string, r rune) int {
	if len(s) < 2 {
		return 0
	}
	switch s[1] {
	case '"', '\\', '/':
		if rune(s[1]) == r {
			return 2
		}
		return 0
	case 'b', 'f', 'n', 'r', 't':
		if shortEscape(s[1]) == r {
			return 2
		}
		return 0
	case 'u':
		u := utf16.Encode([]rune{r})
		n := 0
		for _, c := range u {
			if len(s) < n+6 || s[n] != '\\' || s[n+1] != 'u' || hexByte(s[n+2:n+4]) != int(c>>8) || hexByte(s[n+4:n+6]) != int(c&0xff) {
				return 0
			}
			n += 6
		}
		return n
	}
	return 0
}

// shortEscape is the character a JSON escape \b, \f, \n, \r or \t stands for.
func shortEscape(c byte) rune {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	}
	return '\t'
}

// matchHTMLEscape matches an HTML character reference of r at the start of s.
func matchHTMLEscape(s string, r rune) int {
	end := strings.IndexByte(s, ';')
	if end < 2 || end > 10 {
		return 0
	}
	ref := s[1:end]
	var v rune = -1
	switch {
	case ref == "amp":
		v = '&'
	case ref == "quot":
		v = '"'
	case ref == "apos":
		v = '\''
	case ref == "lt":
		v = '<'
	case ref == "gt":
		v = '>'
	case ref[0] == '#':
		v = 0
		digits, base := ref[1:], rune(10)
		if digits != "" && (digits[0] == 'x' || digits[0] == 'X') {
			digits, base = digits[1:], 16
		}
		if digits == "" {
			return 0
		}
		for i := 0; i < len(digits); i++ {
			d := hexDigit(digits[i])
			if d < 0 || rune(d) >= base {
				return 0
			}
			v = v*base + rune(d)
		}
	}
	if v != r {
		return 0
	}
	return end + 1
}

// hexByte reads two hex digits of either case, or returns -1.
func hexByte(s string) int {
	if len(s) < 2 {
		return -1
	}
	hi, lo := hexDigit(s[0]), hexDigit(s[1])
	if hi < 0 || lo < 0 {
		return -1
	}
	return hi<<4 | lo
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
