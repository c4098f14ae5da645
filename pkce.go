package ddoauth

import (
	"fmt"

	"golang.org/x/oauth2"
)

// NewVerifier returns a fresh PKCE code verifier: 32 random octets,
// base64url-encoded to 43 characters (RFC 7636 §4.1), from
// [oauth2.GenerateVerifier].
func NewVerifier() string { return oauth2.GenerateVerifier() }

// Challenge returns the S256 code challenge for verifier (RFC 7636 §4.2).
// Datadog accepts S256 only; there is no plain method here.
func Challenge(verifier string) string { return oauth2.S256ChallengeFromVerifier(verifier) }

// ValidateVerifier checks a verifier restored from storage before it is
// sent: 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1). A
// truncated or corrupted verifier would otherwise cost the single-use
// authorization code. The error wraps [ErrInvalidGrant] and never
// contains the verifier.
func ValidateVerifier(v string) error {
	if len(v) < 43 || len(v) > 128 {
		return &Error{Op: "validate verifier", Err: ErrInvalidGrant,
			Description: fmt.Sprintf("length %d, want 43 to 128", len(v))}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return &Error{Op: "validate verifier", Err: ErrInvalidGrant,
				Description: fmt.Sprintf("character at offset %d is outside the unreserved set", i)}
		}
	}
	return nil
}
