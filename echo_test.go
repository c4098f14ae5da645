package ddoauth_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// Secrets a server could echo: the client secret is testSecret; the
// verifier comes from Start.
const (
	echoCode    = "c0de-Q7vX2mN9pL4kR8sT1wY6"
	echoAccess  = "AT-9fK2mQ7xV4pL8nR1sT6wY3zB5"
	echoRefresh = "RT-3hJ8kW2qZ6vN1mP9xC4bL7tF0"
	echoAPIKey  = "5f2c9a7e1b3d4c6f8a0e2b4d6f8a1c3e"
)

// echoForm is one way a server may write a secret it was sent.
type echoForm struct {
	name string
	enc  func(string) string
}

func halves(s string) (string, string) { return s[:len(s)/2], s[len(s)/2:] }

func eachByte(s, format string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, format, s[i])
	}
	return b.String()
}

var echoForms = []echoForm{
	{"raw", func(s string) string { return "rejected " + s + " here" }},
	{"upper case", strings.ToUpper},
	{"lower case", strings.ToLower},
	{"base64 std", func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }},
	{"base64 std unpadded", func(s string) string { return base64.RawStdEncoding.EncodeToString([]byte(s)) }},
	{"base64 url", func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }},
	{"base64 url unpadded", func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }},
	{"base64 of a form", func(s string) string {
		return "body " + base64.StdEncoding.EncodeToString([]byte("client_id=x&client_secret="+s+"&grant_type=y"))
	}},
	{"hex lower", func(s string) string { return hex.EncodeToString([]byte(s)) }},
	{"hex upper", func(s string) string { return strings.ToUpper(hex.EncodeToString([]byte(s))) }},
	{"percent upper", func(s string) string { return eachByte(s, "%%%02X") }},
	{"percent lower", func(s string) string { return eachByte(s, "%%%02x") }},
	{"percent twice", func(s string) string { return strings.ReplaceAll(eachByte(s, "%%%02X"), "%", "%25") }},
	{"query escaped", func(s string) string { return "client_secret=" + url.QueryEscape(s) + "&x=1" }},
	{"JSON escaped", func(s string) string { return eachByte(s, `\u%04x`) }},
	{"HTML decimal entities", func(s string) string { return eachByte(s, "&#%d;") }},
	{"HTML hex entities", func(s string) string { return eachByte(s, "&#x%X;") }},
	{"split by zero-width space", func(s string) string { a, b := halves(s); return a + "\u200b" + b }},
	{"zero-width joiner every 3", func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i += 3 {
			b.WriteString(s[i:min(i+3, len(s))])
			b.WriteString("\u200d")
		}
		return b.String()
	}},
	{"split by line break", func(s string) string { a, b := halves(s); return a + "\r\n" + b }},
	{"split by words", func(s string) string { a, b := halves(s); return "first " + a + " then " + b + " end" }},
	{"bidi override", func(s string) string { return "\u202e" + s + "\u202c\u2066\u2069\ufeff" }},
}

// echoChannel is where in an answer a server puts text.
type echoChannel struct {
	name string
	// retried: the answer is one TokenSource retries after a backoff.
	retried bool
	write   func(a echoAnswer, v string)
}

// echoAnswer writes one answer. carry, if set, is added to JSON bodies:
// the API key that an answer of the API-key endpoint carries.
type echoAnswer struct {
	w     http.ResponseWriter
	carry map[string]any
}

func (a echoAnswer) json(status int, body map[string]any) {
	for k, v := range a.carry {
		body[k] = v
	}
	a.w.Header().Set("Content-Type", "application/json")
	a.w.WriteHeader(status)
	json.NewEncoder(a.w).Encode(body) //nolint:errcheck
}

func (a echoAnswer) form(status int, body url.Values) {
	a.w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
	a.w.WriteHeader(status)
	a.w.Write([]byte(body.Encode())) //nolint:errcheck
}

// raw answers with bytes that are not valid HTTP, which net/http's
// errors quote.
func (a echoAnswer) raw(s string) {
	conn, buf, err := http.NewResponseController(a.w).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	buf.WriteString(s) //nolint:errcheck
	buf.Flush()        //nolint:errcheck
}

var echoChannels = []echoChannel{
	{"error", false, func(a echoAnswer, v string) { a.json(400, map[string]any{"error": v}) }},
	{"error_description", false, func(a echoAnswer, v string) {
		a.json(400, map[string]any{"error": "invalid_request", "error_description": v})
	}},
	{"errors[]", false, func(a echoAnswer, v string) { a.json(400, map[string]any{"errors": []string{"Forbidden", v}}) }},
	{"errors[] halves", false, func(a echoAnswer, v string) {
		x, y := halves(v)
		a.json(409, map[string]any{"errors": []string{x, y}})
	}},
	{"error and description halves", false, func(a echoAnswer, v string) {
		x, y := halves(v)
		a.json(400, map[string]any{"error": x, "error_description": y})
	}},
	{"X-Request-Id", false, func(a echoAnswer, v string) {
		a.w.Header().Set("X-Request-Id", v)
		a.json(401, map[string]any{"error": "invalid_client"})
	}},
	{"X-Datadog-Request-Id", false, func(a echoAnswer, v string) {
		a.w.Header().Set("X-Datadog-Request-Id", v)
		a.json(403, map[string]any{"errors": []string{"Forbidden"}})
	}},
	{"form error_description", false, func(a echoAnswer, v string) {
		a.form(400, url.Values{"error": {"invalid_grant"}, "error_description": {v}})
	}},
	{"form error", false, func(a echoAnswer, v string) { a.form(400, url.Values{"error": {v}}) }},
	{"200 JSON with error", false, func(a echoAnswer, v string) {
		a.json(200, map[string]any{"error": "invalid_request", "error_description": v})
	}},
	{"200 JSON error code", false, func(a echoAnswer, v string) { a.json(200, map[string]any{"error": v}) }},
	{"200 form with error", false, func(a echoAnswer, v string) {
		a.form(200, url.Values{"error": {"invalid_request"}, "error_description": {v}})
	}},
	{"malformed status line", true, func(a echoAnswer, v string) { a.raw("HTTP/1.1 " + v + "\r\n\r\n") }},
	{"malformed header line", true, func(a echoAnswer, v string) {
		a.raw("HTTP/1.1 400 Bad Request\r\n" + v + "\r\nContent-Length: 0\r\n\r\n")
	}},
}

// transportForms are the echoForms tried in a malformed answer.
var transportForms = map[string]bool{"raw": true, "upper case": true, "base64 url unpadded": true,
	"hex upper": true, "split by words": true, "bidi override": true}

// echoOp is one operation of the Client that sends secrets and reports
// what the server answered.
type echoOp struct {
	name    string
	secrets func(verifier string) []string
	run     func(t *testing.T, c *ddoauth.Client, p *ddoauth.Pending) error
	// carry is added to every JSON answer.
	carry map[string]any
}

func echoConn() *ddoauth.Connection {
	return &ddoauth.Connection{Site: ddoauth.Sites()[0], Created: time.Now(),
		Token: &oauth2.Token{AccessToken: echoAccess, RefreshToken: echoRefresh, Expiry: time.Now().Add(-time.Hour)}}
}

var echoOps = []echoOp{
	{"exchange", func(v string) []string { return []string{testSecret, echoCode, v} },
		func(t *testing.T, c *ddoauth.Client, p *ddoauth.Pending) error {
			_, err := c.Complete(t.Context(), p, url.Values{"state": {p.State}, "code": {echoCode}})
			return err
		}, nil},
	{"Refresh", func(string) []string { return []string{testSecret, echoRefresh, echoAccess} },
		func(t *testing.T, c *ddoauth.Client, _ *ddoauth.Pending) error {
			_, err := c.Refresh(t.Context(), echoConn())
			return err
		}, nil},
	{"TokenSource", func(string) []string { return []string{testSecret, echoRefresh, echoAccess} },
		func(t *testing.T, c *ddoauth.Client, _ *ddoauth.Pending) error {
			store := &ddoauth.MemoryStore{}
			require.NoError(t, store.Save(t.Context(), "tenant-1", echoConn()))
			_, err := c.TokenSource(store, "tenant-1").Token()
			return err
		}, nil},
	{"Revoke", func(string) []string { return []string{testSecret, echoRefresh, echoAccess} },
		func(t *testing.T, c *ddoauth.Client, _ *ddoauth.Pending) error {
			return c.Revoke(t.Context(), echoConn())
		}, nil},
	{"CreateAPIKey", func(string) []string { return []string{echoAccess, echoRefresh, testSecret} },
		func(t *testing.T, c *ddoauth.Client, _ *ddoauth.Pending) error {
			_, err := c.CreateAPIKey(t.Context(), echoConn())
			return err
		}, nil},
	// The API key is in play where an answer carries it: a refusal that
	// also holds the key, as the endpoint's answer does.
	{"CreateAPIKey with the key", func(string) []string { return []string{echoAPIKey} },
		func(t *testing.T, c *ddoauth.Client, _ *ddoauth.Pending) error {
			_, err := c.CreateAPIKey(t.Context(), echoConn())
			return err
		}, map[string]any{"data": map[string]any{"type": "api_keys", "attributes": map[string]any{"key": echoAPIKey}}}},
}

// TestEchoedSecretsNeverLeak is the leak matrix of issue 9: a server that
// writes a secret of the operation, in any of echoForms, in any of
// echoChannels, never gets it into the error (Error(), %+v, %#v, every
// error it wraps) or the Client's log records.
func TestEchoedSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	var leaks, cases atomic.Int64
	t.Cleanup(func() { t.Logf("%d of %d cases leaked", leaks.Load(), cases.Load()) })
	for _, op := range echoOps {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			var (
				answer atomic.Pointer[func(http.ResponseWriter)]
				mu     sync.Mutex
				logs   bytes.Buffer
			)
			logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
			_, c := setup(t, func(w http.ResponseWriter, r *http.Request) { (*answer.Load())(w) },
				func(cfg *ddoauth.Config) { cfg.Logger = logger })
			_, p, err := c.Start(ddoauth.Sites()[0])
			require.NoError(t, err)
			for _, ch := range echoChannels {
				if ch.retried && op.name == "TokenSource" {
					continue // TestTokenSourceRetriesLeakNothing, without real backoff
				}
				if op.carry != nil && (strings.Contains(ch.name, "form") || ch.retried) {
					continue // the answer has no JSON body to carry the key
				}
				for si, secret := range op.secrets(p.Verifier) {
					for _, form := range echoForms {
						if ch.retried && !transportForms[form.name] {
							continue // each costs a TLS handshake: the pipeline is the same
						}
						value := form.enc(secret)
						answerWith := func(w http.ResponseWriter) { ch.write(echoAnswer{w, op.carry}, value) }
						answer.Store(&answerWith)
						mu.Lock()
						logs.Reset()
						mu.Unlock()
						err := op.run(t, c, p)
						mu.Lock()
						outs := append(errorTexts(err), logs.String())
						mu.Unlock()
						cases.Add(1)
						for _, out := range outs {
							if secretVisible(out, secret) {
								leaks.Add(1)
								t.Errorf("%s / secret %d / %s: leaked in %q", ch.name, si, form.name, out)
								break
							}
						}
					}
				}
			}
		})
	}
}

// TestTokenSourceRetriesLeakNothing: a token endpoint that fails with 503
// and echoes every secret in every form, in its body and request ID,
// through all of a TokenSource's retries, and once more with a malformed
// answer: nothing reaches the error or the logs.
func TestTokenSourceRetriesLeakNothing(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		fault func(secrets []string) ddoauthtest.Fault
	}{
		{"503 echoing", func(secrets []string) ddoauthtest.Fault {
			var all []string
			for _, s := range secrets {
				for _, f := range echoForms {
					all = append(all, f.enc(s))
				}
			}
			body, err := json.Marshal(map[string]any{"error": secrets[0], "error_description": strings.Join(all, " "), "errors": all})
			if err != nil {
				panic(err)
			}
			return ddoauthtest.Fault{Times: -1, Status: 503, Body: string(body),
				Header: http.Header{"X-Request-Id": {secrets[1]}, "Content-Type": {"application/json"}}}
		}},
		{"503 form echoing", func(secrets []string) ddoauthtest.Fault {
			return ddoauthtest.Fault{Times: -1, Status: 503,
				Body:   url.Values{"error": {secrets[0]}, "error_description": {strings.Join(secrets, " ")}}.Encode(),
				Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Datadog-Request-Id": {hex.EncodeToString([]byte(secrets[1]))}}}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				var logs bytes.Buffer
				dd := ddoauthtest.NewUnstartedServer()
				hc := &http.Client{Transport: dd.Transport()}
				logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
				oc := dd.NewClient(testRedirect)
				c, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: testRedirect,
					HTTPClient: hc, Logger: logger})
				require.NoError(t, err)
				authURL, p, err := c.Start(ddoauth.Sites()[3])
				require.NoError(t, err)
				cb, err := dd.Approve(t.Context(), authURL)
				require.NoError(t, err)
				conn, err := c.Complete(t.Context(), p, cb.Query())
				require.NoError(t, err)
				store := &ddoauth.MemoryStore{}
				require.NoError(t, store.Save(t.Context(), "tenant-1", conn))
				dd.ResetRequests()
				secrets := []string{oc.Secret, conn.Token.RefreshToken, conn.Token.AccessToken}

				time.Sleep(2 * time.Hour)
				dd.Fail(ddoauthtest.EndpointToken, tt.fault(secrets))
				mu.Lock()
				logs.Reset()
				mu.Unlock()
				_, err = c.TokenSource(store, "tenant-1").TokenContext(t.Context())
				require.ErrorIs(t, err, ddoauth.ErrServer)
				assert.Equal(t, 4, dd.Count(ddoauthtest.EndpointToken), "every retry was made")
				mu.Lock()
				defer mu.Unlock()
				assert.Equal(t, 3, strings.Count(logs.String(), "retrying token refresh"))
				for _, out := range append(errorTexts(err), logs.String()) {
					for i, s := range secrets {
						assert.False(t, secretVisible(out, s), "secret %d in %q", i, out)
					}
				}
			})
		})
	}
}

// errorTexts is what a caller may print of err: its Error(), %+v and
// %#v, and the Error() of everything it wraps.
func errorTexts(err error) []string {
	if err == nil {
		return nil
	}
	out := []string{fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		out = append(out, e.Error())
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

// secretVisible reports whether out shows secret or a 12-character piece
// of it, in any letter case, with anything but letters and digits in
// between, raw or after undoing HTML entities, percent-encoding, \u
// escapes, hex or base64 (any alphabet, padding and alignment).
func secretVisible(out, secret string) bool { return shownIn(out).has(secret) }

// shown is what a text shows once decoded in every way secretVisible
// tries, as skeletons.
type shown []string

func shownIn(out string) shown {
	views := []string{out}
	for d := out; len(views) < 4; {
		d = unescapeU(unpercent(html.UnescapeString(d)))
		if d == views[len(views)-1] {
			break
		}
		views = append(views, d)
	}
	var sh shown
	for _, v := range views {
		sh = append(sh, skeletonOf(v))
		eachRun(v, 16, isHexDigit, func(run string) {
			for off := range 2 {
				r := run[off:]
				if b, err := hex.DecodeString(r[:len(r)/2*2]); err == nil {
					sh = append(sh, skeletonOf(string(b)))
				}
			}
		})
		eachRun(v, 12, isBase64Char, func(run string) {
			std := strings.NewReplacer("-", "+", "_", "/").Replace(strings.TrimRight(run, "="))
			for off := range 4 {
				if off < len(std) {
					r := std[off:]
					b, _ := base64.RawStdEncoding.DecodeString(r[:len(r)/4*4])
					sh = append(sh, skeletonOf(string(b)))
				}
			}
		})
	}
	return sh
}

func (sh shown) has(secret string) bool {
	want := skeletonOf(secret)
	w := min(12, len(want))
	for _, sk := range sh {
		for i := 0; i+w <= len(want); i++ {
			if strings.Contains(sk, want[i:i+w]) {
				return true
			}
		}
	}
	return false
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isBase64Char(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("+/_=-", c) >= 0
}

// eachRun calls f with every run of at least n bytes of s in class.
func eachRun(s string, n int, class func(byte) bool, f func(string)) {
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && class(s[j]) {
			j++
		}
		if j-i >= n {
			f(s[i:j])
		}
		i = j + 1
	}
}

func unpercent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
			v, _ := hex.DecodeString(s[i+1 : i+3])
			b.Write(v)
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unescapeU(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+5 < len(s) && s[i+1] == 'u' {
			if n, err := strconv.ParseUint(s[i+2:i+6], 16, 32); err == nil {
				b.WriteRune(rune(n))
				i += 5
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// skeletonOf is s lower-cased with only ASCII letters and digits kept.
func skeletonOf(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestSecretVisibleFindsEveryForm(t *testing.T) {
	t.Parallel()
	for _, f := range echoForms {
		assert.True(t, secretVisible(f.enc(testSecret), testSecret), f.name)
		assert.True(t, secretVisible(f.enc(echoAccess), echoAccess), f.name)
	}
	assert.False(t, secretVisible("ddoauth: exchange at datadoghq.com: invalid grant: [redacted] (HTTP 400)", testSecret))
}

// fuzzAnswer is an http.RoundTripper answering every request with one
// fuzzed response, so that FuzzTokenResponse runs fast.
type fuzzAnswer struct {
	status int
	header http.Header
	body   string
}

func (a fuzzAnswer) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return &http.Response{StatusCode: a.status, Status: strconv.Itoa(a.status), Header: a.header.Clone(), Request: req,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Body: io.NopCloser(strings.NewReader(a.body))}, nil
}

const fuzzVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

// fuzzEncodings are how FuzzTokenResponse writes a secret.
var fuzzEncodings = []func(string) string{
	func(s string) string { return s },
	func(s string) string { return hex.EncodeToString([]byte(s)) },
	func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) },
	func(s string) string { return eachByte(s, "%%%02x") },
	func(s string) string { return eachByte(s, "&#%d;") },
	func(s string) string { return eachByte(s, `\\u%04X`) }, // a \u escape inside a JSON string
	strings.ToUpper,
	func(s string) string { a, b := halves(s); return a + "\u200b" + b },
	func(s string) string { return "\u202e" + s + "\u2069" },
}

// FuzzTokenResponse answers the token, revocation and API-key endpoints
// with fuzzed responses: status, Content-Type, a request ID header and a
// body, where "$S", "$C", "$V", "$A", "$R" and "$K" stand for the client
// secret, the code, the verifier, the access and refresh tokens and an
// API key, written in the encoding enc picks. Whatever the answer, nothing
// panics, and no secret in play in the operation shows in the error or the
// log records, nor does any control, zero-width or bidirectional character.
func FuzzTokenResponse(f *testing.F) {
	// testdata/fuzz/FuzzTokenResponse holds a seed per channel and
	// operation; these add every encoding, content type and op.
	bodies := []string{`{"error":"invalid_request","error_description":"$V $S $R"}`, `error=$S&error_description=$A`,
		`{"errors":["Forbidden","$S","$A"]}`, `{`, ``}
	for i := range 20 {
		f.Add(uint8(i), uint8(i), uint8(i/4), uint16(i*37), "$S", bodies[i%len(bodies)])
	}
	f.Fuzz(fuzzBody)
}

func fuzzBody(t *testing.T, op, enc, ctype uint8, status uint16, header, body string) {
	{
		if len(body) > 1<<16 || len(header) > 1<<10 {
			return
		}
		var logs bytes.Buffer
		encode := fuzzEncodings[int(enc)%len(fuzzEncodings)]
		a := fuzzAnswer{status: 200 + int(status)%400, header: http.Header{}}
		if ct := []string{"application/json", "application/x-www-form-urlencoded", "text/plain", "", "application/json; charset=utf-8"}[int(ctype)%5]; ct != "" {
			a.header.Set("Content-Type", ct)
		}
		c, err := ddoauth.New(ddoauth.Config{ClientID: testClientID, ClientSecret: testSecret, RedirectURL: testRedirect,
			HTTPClient: &http.Client{Transport: &a}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		require.NoError(t, err)
		// A fixed verifier keeps every run of an input alike, as the
		// fuzzer's minimization needs.
		p := &ddoauth.Pending{State: "st-0123456789abcdef", Verifier: fuzzVerifier, Site: ddoauth.Sites()[0],
			RedirectURL: testRedirect, Created: time.Now()}
		sub := strings.NewReplacer("$S", encode(testSecret), "$C", encode(echoCode), "$V", encode(p.Verifier),
			"$A", encode(echoAccess), "$R", encode(echoRefresh), "$K", encode(echoAPIKey))
		a.body = sub.Replace(body)
		a.header.Set("X-Request-Id", sub.Replace(header))

		var inPlay []string
		switch op % 4 {
		case 0:
			inPlay = []string{testSecret, echoCode, p.Verifier}
			_, err = c.Complete(t.Context(), p, url.Values{"state": {p.State}, "code": {echoCode}})
		case 1:
			inPlay = []string{testSecret, echoRefresh, echoAccess}
			_, err = c.Refresh(t.Context(), echoConn())
		case 2:
			inPlay = []string{testSecret, echoRefresh, echoAccess}
			err = c.Revoke(t.Context(), echoConn())
		case 3:
			inPlay = []string{testSecret, echoRefresh, echoAccess}
			_, err = c.CreateAPIKey(t.Context(), echoConn())
		}
		if err != nil {
			for _, r := range err.Error() {
				if r < ' ' || r == 0x7f || unicode.Is(unicode.Cf, r) {
					t.Fatalf("control or format character %U in %q", r, err.Error())
				}
			}
		}
		for _, out := range append(errorTexts(err), logs.String()) {
			sh := shownIn(out)
			for i, s := range inPlay {
				if sh.has(s) {
					t.Fatalf("secret %d of op %d shows in %q", i, op%4, out)
				}
			}
		}
	}
}

// TestErrorTextDropsInvisibles: bidirectional overrides and isolates and
// zero-width characters in a callback's error or the token endpoint's
// answer are removed with the other control characters.
func TestErrorTextDropsInvisibles(t *testing.T) {
	t.Parallel()
	const tricky = "a\u202ab\u202bc\u202cd\u202de\u202ef\u2066g\u2067h\u2068i\u2069j\u200bk\u200cl\u200dm\u2060n\ufeffo"
	_, c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req\u200b-1")
		echoAnswer{w: w}.json(400, map[string]any{"error": "invalid_request\u202e", "error_description": tricky})
	})
	_, p, err := c.Start(ddoauth.Sites()[0])
	require.NoError(t, err)
	_, cbErr := c.Complete(t.Context(), p, url.Values{"state": {p.State}, "error": {"access_denied\u2066"}, "error_description": {tricky}})
	require.ErrorIs(t, cbErr, ddoauth.ErrAccessDenied)
	_, exErr := c.Complete(t.Context(), p, url.Values{"state": {p.State}, "code": {echoCode}})
	require.ErrorIs(t, exErr, ddoauth.ErrAuthorization)
	for _, err := range []error{cbErr, exErr} {
		var e *ddoauth.Error
		require.ErrorAs(t, err, &e)
		assert.Contains(t, e.Description, "abcdefghijklmno")
		for _, r := range fmt.Sprintf("%v %#v", err, err) {
			assert.False(t, unicode.Is(unicode.Cf, r), "%U in %q", r, err.Error())
		}
	}
}
