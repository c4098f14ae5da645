package ddoauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ddoauth/ddoauth/internal/redact"
)

// Sentinel errors. Callers branch on them with errors.Is; the *Error that
// wraps them carries the details.
var (
	// ErrUnknownSite: a site or domain value is not in the allowlist.
	ErrUnknownSite = errors.New("unknown Datadog site")
	// ErrSiteMismatch: two site values disagree, or the callback names a
	// region other than the one the authorization was started for (a
	// possible mix-up attack, RFC 9700 §4.4).
	ErrSiteMismatch = errors.New("site mismatch")
	// ErrStateMismatch: the callback's state is missing or is not the
	// pending one (CSRF, a replay, or a callback meant for another tab).
	// The handlers' ErrReplayed, ErrBadCookie and ErrSessionMismatch match
	// it too.
	ErrStateMismatch = errors.New("state mismatch")
	// ErrStateExpired: the pending authorization is older than Config.PendingTTL.
	ErrStateExpired = errors.New("authorization expired")
	// ErrInvalidCallback: the callback has neither a usable code nor an error.
	ErrInvalidCallback = errors.New("invalid callback")
	// ErrAccessDenied: the user declined the authorization.
	ErrAccessDenied = errors.New("access denied")
	// ErrAuthorization: the authorize step failed with another RFC 6749
	// §4.1.2.1 error code; Error.Code has it.
	ErrAuthorization = errors.New("authorization failed")
	// ErrInvalidClient: Datadog does not accept the OAuth client: its ID,
	// its secret, or the redirect URI sent (Error.Description and
	// Error.Hint say which). The partner's configuration must change.
	ErrInvalidClient = errors.New("invalid client")
	// ErrInvalidGrant: the grant is invalid, expired or revoked: an
	// authorization code already used or expired, a PKCE verifier that is
	// not the one kept since Start or is malformed (RFC 7636 §4.6), or a
	// refresh token Datadog refuses. The customer must authorize again.
	ErrInvalidGrant = errors.New("invalid grant")
	// ErrForbidden: Datadog answered 403: a scope is missing, or the token
	// is expired, revoked or not for this organization.
	ErrForbidden = errors.New("forbidden")
	// ErrServer: Datadog failed: a 5xx or 429, a redirect (a request
	// carrying credentials never follows one), or a body that is not what
	// the endpoint documents. Try again later.
	ErrServer = errors.New("server error")
	// ErrInvalidConfig: New was given a Config it cannot work with.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrNotRevoked: a revocation did not succeed, so the token must be
	// presumed valid (RFC 7009 §2.2.1); retry it.
	ErrNotRevoked = errors.New("token not revoked")
	// ErrRevoked: the connection's grant is gone (Datadog answered
	// invalid_grant to a refresh). The connection is marked Revoked in its
	// Store and not refreshed again; the customer must authorize again.
	ErrRevoked = errors.New("connection revoked")
	// ErrNetwork: Datadog gave no answer (connection refused or reset,
	// TLS failure, timeout). Err holds the transport's error.
	ErrNetwork = errors.New("no answer from Datadog")
	// ErrNotFound: a Store holds nothing under that ID.
	ErrNotFound = errors.New("not found")
	// ErrCorruptConnection: a stored connection lacks its site or refresh
	// token. It is not marked revoked: the store, not the grant, is at fault.
	ErrCorruptConnection = errors.New("stored connection is incomplete")
)

// Error describes a failed ddoauth operation. It never holds a secret: no
// client secret, code, verifier, token or API key appears in its fields.
//
// Use errors.Is with the sentinels above to branch and errors.As to read
// the details. Error() is one line for a log: the operation, the site, the
// cause, the start of the description, the OAuth code and the HTTP status.
// Hint and the whole Description are for people, on a page or in a
// support ticket.
type Error struct {
	Op          string        // what failed: "resolve site", "callback", "exchange", ...
	Site        string        // the site's host form, when one is known
	StatusCode  int           // HTTP status of Datadog's answer, or 0
	Code        string        // OAuth error code (RFC 6749 §5.2, §4.1.2.1), e.g. "invalid_grant"
	Description string        // Datadog's error description or message
	Hint        string        // what to do about it
	RequestID   string        // Datadog's request ID, when the response carried a plain one with no secret in it
	RetryAfter  time.Duration // the answer's Retry-After, if any
	RateLimit   *RateLimit    // the answer's X-RateLimit-* headers, or nil
	Err         error         // a sentinel above, or the underlying cause

	also []error // further sentinels the failure also counts as
}

// RateLimit is what Datadog's X-RateLimit-* headers said about the rate
// limit an answer counts against. A header that was absent or not a
// number leaves its field zero.
type RateLimit struct {
	Name      string        // X-RateLimit-Name: which limit
	Limit     int           // X-RateLimit-Limit: requests allowed per Period
	Period    time.Duration // X-RateLimit-Period
	Remaining int           // X-RateLimit-Remaining: requests left in this period
	Reset     time.Duration // X-RateLimit-Reset: time until the period ends
}

// redirectRefused describes a redirect answered to a request that carries
// credentials.
const redirectRefused = "redirect not followed"

// maxErrorDescription is how much of Description Error() shows.
const maxErrorDescription = 60

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("ddoauth: ")
	b.WriteString(e.Op)
	if e.Site != "" {
		b.WriteString(" at ")
		b.WriteString(e.Site)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(causeText(e.Err))
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(truncate(e.Description, maxErrorDescription))
	}
	if e.Code != "" || e.StatusCode != 0 {
		b.WriteString(" (")
		b.WriteString(e.Code)
		if e.StatusCode != 0 {
			if e.Code != "" {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
		}
		b.WriteString(")")
	}
	return b.String()
}

// causeText is err's message without the method and URL net/http puts
// before a transport error: Op and Site already say where it went.
func causeText(err error) string {
	msg := err.Error()
	if ue, ok := errors.AsType[*url.Error](err); ok && ue.Err != nil {
		if inner := ue.Err.Error(); strings.HasSuffix(msg, ": "+inner) {
			return inner
		}
	}
	return msg
}

// Unwrap returns Err and, for failures that are two things at once, the
// second sentinel: a failed revocation is ErrNotRevoked and the cause.
func (e *Error) Unwrap() []error { return append([]error{e.Err}, e.also...) }

// wait is how long Datadog asked to wait before trying again: the longer
// of Retry-After and, when the answer is a 429 or the period's requests
// are used up, the time until the rate limit's period ends.
func (e *Error) wait() time.Duration {
	d := e.RetryAfter
	if rl := e.RateLimit; rl != nil && (e.StatusCode == http.StatusTooManyRequests || rl.Remaining == 0 && rl.Limit > 0) {
		d = max(d, rl.Reset)
	}
	return d
}

// oauthBody is the union of Datadog's error shapes: RFC 6749 §5.2 on the
// OAuth endpoints and {"errors": [...]} on the REST API, with the secrets
// an answer may carry next to an error, which are redacted too.
type oauthBody struct {
	Error        string   `json:"error"`
	Description  string   `json:"error_description"`
	Errors       []string `json:"errors"`
	AccessToken  string   `json:"access_token"`
	RefreshToken string   `json:"refresh_token"`
	IDToken      string   `json:"id_token"`
	Data         struct {
		Attributes struct {
			Key string `json:"key"`
		} `json:"attributes"`
	} `json:"data"`
}

// requestIDHeaders are where a request ID may be found; Datadog does not
// document one, so the common names are tried.
var requestIDHeaders = []string{"X-Datadog-Request-Id", "X-Request-Id", "Dd-Request-Id"}

// responseError builds the *Error for a failed Datadog response. Every
// field taken from the answer goes through a redactor holding secrets,
// every secret in play in the operation, and those the body itself
// carries (see internal/redact), in case a server echoes what it was
// sent. A body is read as JSON or, like x/oauth2 does, as a form.
func responseError(op string, site Site, status int, header http.Header, body []byte, secrets ...string) *Error {
	e := &Error{Op: op, Site: site.String(), StatusCode: status}
	var ob oauthBody
	parsed := json.Unmarshal(body, &ob) == nil
	if !parsed {
		ob = oauthBody{}
		if ct, _, _ := mime.ParseMediaType(header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" || ct == "text/plain" {
			if v, err := url.ParseQuery(string(body)); err == nil {
				ob.Error, ob.Description = v.Get("error"), v.Get("error_description")
				ob.AccessToken, ob.RefreshToken, ob.IDToken = v.Get("access_token"), v.Get("refresh_token"), v.Get("id_token")
				parsed = true
			}
		}
	}
	r := redact.New(secrets...)
	r.Add(ob.AccessToken, ob.RefreshToken, ob.IDToken, ob.Data.Attributes.Key)
	for _, h := range requestIDHeaders {
		if v := header.Get(h); v != "" {
			e.RequestID = r.ID(v)
			break
		}
	}
	if parsed {
		e.Code = r.Text(ob.Error, 64)
		e.Description = ob.Description
		if e.Description == "" && len(ob.Errors) > 0 {
			e.Description = strings.Join(ob.Errors, "; ")
		}
		e.Description = r.Text(e.Description, 256)
	} else if status >= 300 {
		e.Description = "non-JSON body of " + strconv.Itoa(len(body)) + " bytes"
	}
	if status >= 300 && status < 400 {
		e.Description = redirectRefused
	}
	e.Err = classify(status, e.Code, e.Description)
	if v := header.Get("Retry-After"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			e.RetryAfter = max(time.Until(t), 0)
		}
	}
	e.RateLimit = rateLimit(header, r)
	return e
}

// maxRateLimitSeconds caps the figures of X-RateLimit-Period and -Reset
// (a day), so that no header overflows a Duration.
const maxRateLimitSeconds = 24 * 60 * 60

// rateLimit reads Datadog's X-RateLimit-* headers, or returns nil when the
// answer has none.
func rateLimit(h http.Header, r *redact.Redactor) *RateLimit {
	num := func(name string, limit int) (int, bool) {
		v := h.Get(name)
		n, err := strconv.Atoi(strings.TrimSpace(v))
		return min(n, limit), v != "" && err == nil && n >= 0
	}
	var rl RateLimit
	var found, ok bool
	var n int
	if n, ok = num("X-RateLimit-Limit", math.MaxInt32); ok {
		rl.Limit, found = n, true
	}
	if n, ok = num("X-RateLimit-Period", maxRateLimitSeconds); ok {
		rl.Period, found = time.Duration(n)*time.Second, true
	}
	if n, ok = num("X-RateLimit-Remaining", math.MaxInt32); ok {
		rl.Remaining, found = n, true
	}
	if n, ok = num("X-RateLimit-Reset", maxRateLimitSeconds); ok {
		rl.Reset, found = time.Duration(n)*time.Second, true
	}
	if v := h.Get("X-RateLimit-Name"); v != "" {
		rl.Name, found = r.Text(v, 64), true
	}
	if !found {
		return nil
	}
	return &rl
}

// classify maps Datadog's answers to sentinels. Codes that say one thing
// decide first; the description strings of Datadog's partner
// troubleshooting guide then split the codes Datadog uses for several
// causes (invalid_request, and invalid_grant for a code or verifier).
func classify(status int, code, desc string) error {
	switch code {
	case "access_denied":
		return ErrAccessDenied
	case "invalid_client", "unauthorized_client":
		return ErrInvalidClient
	case "server_error", "temporarily_unavailable":
		return ErrServer
	}
	d := strings.ToLower(desc)
	switch {
	case strings.Contains(d, "invalid client_id"):
		return ErrInvalidClient
	case strings.Contains(d, "mismatching redirect uri"):
		return ErrInvalidClient
	case strings.Contains(d, "code verifier"), strings.Contains(d, "code_verifier"), code == "invalid_grant":
		return ErrInvalidGrant
	}
	switch {
	case status == http.StatusUnauthorized:
		return ErrInvalidClient
	case status == http.StatusForbidden:
		return ErrForbidden
	case status >= 500, status >= 300 && status < 400, status == http.StatusTooManyRequests, status == http.StatusRequestTimeout:
		return ErrServer
	case code != "":
		return ErrAuthorization
	}
	return ErrServer
}

// transportError wraps a request that got no usable answer: a network
// failure also matches ErrNetwork.
func transportError(op string, site Site, err error, also ...error) *Error {
	e := &Error{Op: op, Site: site.String(), Err: err, also: also}
	if !errors.Is(e, ErrServer) {
		e.also = append(e.also, ErrNetwork)
	}
	return e
}

// redactedError stands for a transport error whose message quoted the
// server: net/http's errors quote a malformed answer's status or header
// line. Its cause is the *url.Error rebuilt around the redacted message,
// so that errors.As still finds it; the original is dropped.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactErr returns err itself when the redactor of its operation finds
// nothing to take out of its message (every network error, timeout and
// cancellation), and otherwise a redactedError.
func redactErr(err error, secrets ...string) error {
	r := redact.New(secrets...)
	msg := err.Error()
	red := r.Text(msg, 512)
	if red == msg {
		return err
	}
	var cause error
	if ue, ok := errors.AsType[*url.Error](err); ok {
		cause = &url.Error{Op: ue.Op, URL: ue.URL, Err: errors.New(r.Text(ue.Err.Error(), 512))}
	}
	return &redactedError{msg: red, err: cause}
}

// hint says what to do, in terms of what the caller sent. It names the
// client ID and redirect URI, which are public, never a secret. err is
// best the *Error itself: its Op and Description refine the advice.
func hint(err error, clientID, redirectURL string) string {
	var op, desc string
	if e, ok := errors.AsType[*Error](err); ok {
		op, desc = e.Op, strings.ToLower(e.Description)
	}
	switch {
	case errors.Is(err, ErrInvalidClient) && strings.Contains(desc, "redirect uri"):
		return fmt.Sprintf("redirect_uri %q must match a redirect URI on the OAuth client exactly; "+
			"test and published clients are configured separately", redirectURL)
	case errors.Is(err, ErrInvalidClient):
		return fmt.Sprintf("Datadog did not accept client_id %q: an unpublished OAuth client authorizes only its sandbox organization, "+
			"and test and published clients have different IDs and secrets; check the ID and the current secret", clientID)
	case errors.Is(err, ErrInvalidGrant) && (op == "exchange" || op == "validate verifier"):
		return "the code was already used or expired, or the verifier is not the one kept from the start of this authorization " +
			"(the pending state must survive from authorize to callback; ddoauth always sends form-encoded bodies): start again"
	case errors.Is(err, ErrInvalidGrant):
		return "the grant is revoked, expired or already used: the customer must authorize again"
	case errors.Is(err, ErrForbidden):
		return "the token lacks a scope this call needs, or it is expired or revoked; " +
			"data is sent with the API key (scope api_keys_write), not a token scope"
	case errors.Is(err, ErrStateMismatch):
		return "the callback does not belong to the pending authorization: start again from the onboarding link"
	case errors.Is(err, ErrSiteMismatch):
		return "the callback names another region than the one the authorization started at: start again"
	case errors.Is(err, ErrStateExpired):
		return "the authorization took too long: start again from the onboarding link"
	case errors.Is(err, ErrServer) && desc == redirectRefused:
		return "requests carrying credentials never follow redirects; the site's token URL must answer directly"
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// clean makes text from outside safe for error strings and log lines:
// control characters become spaces, format characters (zero-width,
// bidirectional overrides and isolates, U+FEFF) are removed, and it is
// cut to n bytes.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029:
			return ' '
		case unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, s)
	return truncate(s, n)
}
