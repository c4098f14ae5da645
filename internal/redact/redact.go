// Package redact cuts down text a server sent before ddoauth puts it in an
// error or a log record, so that a server echoing what it was sent (the
// client secret, a code, a verifier, tokens, an API key) cannot make
// ddoauth print it.
//
// Looking for each secret in each encoding a server might use is never
// complete, and cutting text down to what looks harmless misses short or
// split secrets. A Redactor does both, in this order:
//
//  1. Bound: read at most MaxInput bytes.
//  2. Decode: HTML entities, percent-encoding and backslash escapes
//     (\uXXXX, \xXX, \n, ...), up to three layers deep, so that an escaped
//     secret is seen as itself. Text encoded deeper is replaced whole.
//  3. Allowlist: keep printable ASCII only. Control characters become
//     spaces; format characters (zero-width, bidirectional overrides,
//     U+FEFF, soft hyphen) are removed; anything else becomes '?'.
//  4. Secrets: every letter and digit of the text, lower-cased and with
//     everything else left out, is searched for any run of Gram characters
//     of each secret in play, in its raw, hexadecimal and base64 forms
//     (standard and URL alphabets, padded or not, at each of the three
//     alignments a base64 text can put it at). A match is replaced, with
//     whatever separates its characters, by "[redacted]": this finds a
//     secret in any letter case, split by spaces, line breaks, invisible
//     characters or punctuation, or cut in pieces of Gram characters or more.
//  5. Opaque runs: any other run of at least OpaqueRun characters from the
//     base64 and hexadecimal alphabets that mixes two of digits, upper- and
//     lower-case letters is replaced too: a secret in an encoding step 4
//     does not know. OAuth error codes (lower-case words and underscores)
//     and ordinary words pass.
//  6. Cut to the caller's bound.
//
// What passes: fragments of a secret shorter than Gram characters, and
// encodings other than those above whose runs are shorter than OpaqueRun.
package redact

import (
	"encoding/base64"
	"encoding/hex"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxInput bounds what Text reads of a server's text.
	MaxInput = 4096
	// Gram is the shortest run of a secret's characters that is redacted.
	Gram = 8
	// OpaqueRun is the shortest base64- or hex-like run that is redacted
	// whatever secrets are in play.
	OpaqueRun = 16
	// minSecret is the shortest secret looked for: shorter ones would
	// redact ordinary words.
	minSecret = 4
	// maxLayers is how many layers of encoding are undone; text with more
	// is replaced whole.
	maxLayers = 3
	// Mark replaces what is redacted.
	Mark = "[redacted]"
)

// A Redactor removes a set of secrets from text. The zero Redactor holds
// no secrets and still applies the allowlist and the opaque-run rule.
type Redactor struct {
	grams map[string]struct{} // every Gram-long run of every form of every secret
	whole []string            // forms shorter than Gram, matched whole
}

// New returns a Redactor for secrets; empty ones are ignored.
func New(secrets ...string) *Redactor {
	n := 0
	for _, s := range secrets {
		n += 7 * len(s) // grams of the raw, hex and three base64 forms
	}
	r := &Redactor{grams: make(map[string]struct{}, n)}
	r.Add(secrets...)
	return r
}

// Add adds secrets to r.
func (r *Redactor) Add(secrets ...string) {
	for _, sec := range secrets {
		if len(sec) < minSecret {
			continue
		}
		if r.grams == nil {
			r.grams = map[string]struct{}{}
		}
		forms := []string{skeleton(sec), hex.EncodeToString([]byte(sec))}
		for align := range 3 {
			forms = append(forms, skeleton(base64At(sec, align)))
		}
		for _, f := range forms {
			if len(f) < Gram {
				if len(f) >= minSecret {
					r.whole = append(r.whole, f)
				}
				continue
			}
			for i := 0; i+Gram <= len(f); i++ {
				r.grams[f[i:i+Gram]] = struct{}{}
			}
		}
	}
}

// Text returns s, from a server, fit for an error or a log record and cut
// to at most n bytes.
func (r *Redactor) Text(s string, n int) string {
	s = cut(s, MaxInput)
	for layer := 0; ; layer++ {
		d := decode(s)
		if d == s {
			break
		}
		if layer == maxLayers {
			return Mark // encoded deeper than any server does: nothing of it is shown
		}
		s = d
	}
	s = allow(s)
	s = r.mask(s)
	s = maskOpaque(s)
	return strings.TrimSpace(cut(s, n))
}

// ID returns a server's identifier (a request ID) if it is 1-64
// characters of [A-Za-z0-9._:-] in which no secret of r is found, and ""
// otherwise: an identifier is passed on whole or not at all.
func (r *Redactor) ID(s string) string {
	if s == "" || len(s) > 64 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != ':' && c != '-' {
			return ""
		}
	}
	if r.mask(s) != s {
		return ""
	}
	return s
}

// mask replaces the secrets of r in s, which is printable ASCII.
func (r *Redactor) mask(s string) string {
	if len(r.grams) == 0 && len(r.whole) == 0 {
		return s
	}
	sk := make([]byte, 0, len(s))
	pos := make([]int, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; isAlnum(c) {
			sk = append(sk, lower(c))
			pos = append(pos, i)
		}
	}
	covered := make([]bool, len(sk))
	found := false
	for i := 0; i+Gram <= len(sk); i++ {
		if _, ok := r.grams[string(sk[i:i+Gram])]; ok {
			for j := i; j < i+Gram; j++ {
				covered[j] = true
			}
			found = true
		}
	}
	for _, w := range r.whole {
		for from := 0; ; {
			j := strings.Index(string(sk[from:]), w)
			if j < 0 {
				break
			}
			for k := from + j; k < from+j+len(w); k++ {
				covered[k] = true
			}
			found = true
			from += j + 1
		}
	}
	if !found {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(sk); {
		if !covered[i] {
			i++
			continue
		}
		j := i
		for j+1 < len(sk) && covered[j+1] {
			j++
		}
		b.WriteString(s[last:pos[i]])
		b.WriteString(Mark)
		last = pos[j] + 1
		i = j + 1
	}
	b.WriteString(s[last:])
	return b.String()
}

// maskOpaque replaces base64- and hex-like runs of OpaqueRun characters
// or more that mix two of digits, upper- and lower-case letters.
func maskOpaque(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !isOpaque(s[i]) {
			i++
			continue
		}
		j := i
		var digit, upper, low bool
		for ; j < len(s) && isOpaque(s[j]); j++ {
			c := s[j]
			digit = digit || c >= '0' && c <= '9'
			upper = upper || c >= 'A' && c <= 'Z'
			low = low || c >= 'a' && c <= 'z'
		}
		if j-i >= OpaqueRun && (digit && (upper || low) || upper && low) {
			b.WriteString(s[last:i])
			b.WriteString(Mark)
			last = j
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// isOpaque reports whether c may be part of a base64 (either alphabet, '/'
// left out so that paths stay readable), hex or percent-encoded run.
func isOpaque(c byte) bool {
	return isAlnum(c) || c == '+' || c == '=' || c == '-' || c == '_' || c == '%' || c == '~'
}

// allow keeps printable ASCII: control characters become spaces, format
// characters (zero-width, bidirectional controls, U+FEFF, soft hyphen) go,
// and every other character becomes '?'.
func allow(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		i += w
		switch {
		case r >= ' ' && r < 0x7f:
			b.WriteRune(r)
		case r < ' ' || r == 0x7f || r >= 0x80 && r < 0xa0 || r == 0x2028 || r == 0x2029 || unicode.IsSpace(r):
			b.WriteByte(' ')
		case unicode.Is(unicode.Cf, r):
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// decode undoes one layer of HTML entities, percent-encoding and
// backslash escapes, leaving anything malformed as it is.
func decode(s string) string {
	if strings.ContainsRune(s, '&') {
		s = html.UnescapeString(s)
	}
	if !strings.ContainsAny(s, `%\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		case c == '\\' && i+1 < len(s):
			switch n := s[i+1]; n {
			case 'u':
				if i+5 < len(s) && isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]) {
					r := rune(unhex(s[i+2]))<<12 | rune(unhex(s[i+3]))<<8 | rune(unhex(s[i+4]))<<4 | rune(unhex(s[i+5]))
					b.WriteRune(r)
					i += 5
					continue
				}
				b.WriteByte(c)
			case 'x':
				if i+3 < len(s) && isHex(s[i+2]) && isHex(s[i+3]) {
					b.WriteByte(unhex(s[i+2])<<4 | unhex(s[i+3]))
					i += 3
					continue
				}
				b.WriteByte(c)
			case 'n', 'r', 't', 'b', 'f':
				b.WriteByte(' ')
				i++
			case '\\', '/', '"', '\'':
				b.WriteByte(n)
				i++
			default:
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// base64At returns the base64 characters that encode only bytes of sec
// when sec follows align other bytes: the same text whatever those bytes
// are, so a secret is found inside a longer base64 text too.
func base64At(sec string, align int) string {
	buf := make([]byte, align+len(sec))
	copy(buf[align:], sec)
	enc := base64.RawStdEncoding.EncodeToString(buf)
	lo := (8*align + 5) / 6          // first character with no bit of the prefix
	hi := 8 * (align + len(sec)) / 6 // characters before hi have all their bits in buf
	if lo >= hi {
		return ""
	}
	return enc[lo:hi]
}

// skeleton is s lower-cased with everything but ASCII letters and digits
// left out.
func skeleton(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; isAlnum(c) {
			b = append(b, lower(c))
		}
	}
	return string(b)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
