package redact_test

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ddoauth/ddoauth/internal/redact"
)

const secret = "ddsecret-7f3c1e9a2b4d6f80"

func TestText(t *testing.T) {
	t.Parallel()
	r := redact.New(secret, "", "abc")
	tests := []struct{ name, in, want string }{
		{"OAuth code", "invalid_grant", "invalid_grant"},
		{"long OAuth code", "unsupported_grant_type", "unsupported_grant_type"},
		{"Datadog's words", "Invalid code or code verifier", "Invalid code or code verifier"},
		{"a path", "see https://docs.datadoghq.com/api/latest/v2/api_keys", "see https://docs.datadoghq.com/api/latest/v2/api_keys"},
		{"raw", "bad secret " + secret + ".", "bad secret [redacted]."},
		{"upper case", "BAD " + strings.ToUpper(secret), "BAD [redacted]"},
		{"hex", "x " + hex.EncodeToString([]byte(secret)) + " y", "x [redacted] y"},
		{"base64 in a longer text", "b " + base64.StdEncoding.EncodeToString([]byte("a="+secret+"&b")),
			"b YT1[redacted]JmI="},
		{"percent", "s=%64%64%73%65%63%72%65%74%2D%37%66%33%63%31%65%39%61%32%62%34%64%36%66%38%30", "s=[redacted]"},
		{"percent twice", "s=%2564%2564%2573%2565%2563%2572%2565%2574%252D%2537%2566%2533%2563%2531%2565%2539%2561%2532%2562%2534%2564%2536%2566%2538%2530",
			"s=[redacted]"},
		{"HTML entities", "&#100;&#100;&#115;&#101;&#99;&#114;&#101;&#116;&#45;&#55;&#102;&#51;&#99;&#49;&#101;&#57;&#97;&#50;&#98;&#52;&#100;&#54;&#102;&#56;&#48;", "[redacted]"},
		{"JSON escapes", `\u0064\u0064\u0073\u0065\u0063\u0072\u0065\u0074-7f3c1e9a2b4d6f80`, "[redacted]"},
		{"split by a zero-width space", "ddsecret\u200b-7f3c1e9a2b4d6f80", "[redacted]"},
		{"split by words", "a ddsecret-7f3 and c1e9a2b4d6f80 b", "a [redacted] and [redacted] b"},
		{"bidi and zero-width removed", "\u202eab\u200bc\u2066d\u2069\ufeff", "abcd"},
		{"controls", "a\nb\x1bc\u2028d", "a b c d"},
		{"non-ASCII", "café", "caf?"},
		{"an unknown token", "token 9fK2mQ7xV4pL8nR1sT6w rejected", "token [redacted] rejected"},
		{"a short number", "retry in 120 seconds", "retry in 120 seconds"},
		{"four layers", "&amp;amp;amp;amp;", "[redacted]"},
		{"cut", strings.Repeat("a ", 200), strings.TrimSpace(strings.Repeat("a ", 32))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, r.Text(tt.in, 64))
		})
	}
}

func TestID(t *testing.T) {
	t.Parallel()
	r := redact.New(secret)
	for _, id := range []string{"4f3c2a1e-9b8d-4c7e-a6f5-0123456789ab", "0123456789abcdef", "abc.def:1"} {
		assert.Equal(t, id, r.ID(id), id)
	}
	for _, id := range []string{"", secret, hex.EncodeToString([]byte(secret)),
		base64.RawURLEncoding.EncodeToString([]byte(secret)), "%64" + secret[1:], "a b", strings.Repeat("a", 65), "é"} {
		assert.Empty(t, r.ID(id), id)
	}
}

func TestZeroRedactor(t *testing.T) {
	t.Parallel()
	var r redact.Redactor
	assert.Equal(t, "invalid_request: bad [redacted]", r.Text("invalid_request: bad 9fK2mQ7xV4pL8nR1sT6wY3zB5", 100))
	assert.Equal(t, "req-1", r.ID("req-1"))
}
