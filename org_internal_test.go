package ddoauth

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzOrgName checks what the callback's dd_org_name becomes, whatever
// it is: valid UTF-8, at most maxOrgName runes, no control or invisible
// character, no leading, trailing or double space, and the same when
// cleaned again (a stored name is cleaned again when read).
func FuzzOrgName(f *testing.F) {
	for _, s := range []string{"Acme Corp", "Acme\u202egnp.exe", "\u2066x\u2069", "a\u200b\u200d\ufeffb", "a\n\r\tb",
		"a\u2028b\u2029c\u0085", "\x00\x1b[31m", "<script>alert(1)</script>", strings.Repeat("é", 200),
		strings.Repeat("a ", 100), "\xff\xfe", "\U000E0041", "\ue000", "\ufffe\uffff\ufdd0", " \u00a0 ", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := cleanOrgName(raw)
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > maxOrgName {
			t.Fatalf("cleanOrgName(%q) = %q: not UTF-8 or too long", raw, got)
		}
		if strings.ContainsFunc(got, func(r rune) bool {
			return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Zl, unicode.Zp) ||
				unicode.IsSpace(r) && r != ' '
		}) {
			t.Fatalf("cleanOrgName(%q) = %q: holds a control, invisible or odd space character", raw, got)
		}
		if strings.HasPrefix(got, " ") || strings.HasSuffix(got, " ") || strings.Contains(got, "  ") {
			t.Fatalf("cleanOrgName(%q) = %q: spaces not collapsed", raw, got)
		}
		if again := cleanOrgName(got); again != got {
			t.Fatalf("cleanOrgName(%q) = %q, cleaned again %q", raw, got, again)
		}
	})
}

// FuzzOrgID checks that an accepted dd_oid is a canonical UUID that parses
// to itself, and that only a value equal to it but for case is accepted.
func FuzzOrgID(f *testing.F) {
	for _, s := range []string{"4f2c3a1e-8a7b-4c6d-9e0f-1a2b3c4d5e6f", "4F2C3A1E-8A7B-4C6D-9E0F-1A2B3C4D5E6F",
		"00000000-0000-0000-0000-000000000000", "{4f2c3a1e-8a7b-4c6d-9e0f-1a2b3c4d5e6f}", "4f2c3a1e8a7b4c6d9e0f1a2b3c4d5e6f",
		"4f2c3a1e-8a7b-4c6d-9e0f-1a2b3c4d5e6\u0660", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, ok := parseOrgID(raw)
		if !ok {
			return
		}
		if len(id) != 36 || id != strings.ToLower(id) || !strings.EqualFold(id, raw) {
			t.Fatalf("parseOrgID(%q) = %q", raw, id)
		}
		if again, ok := parseOrgID(id); !ok || again != id {
			t.Fatalf("parseOrgID(%q) = %q, %t", id, again, ok)
		}
	})
}
