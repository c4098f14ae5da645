package ddoauthtest

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ddoauth/ddoauth"
)

// Request is one entry of the request log. Secrets never appear in it:
// form values and headers that carry them hold [Fingerprint] instead.
type Request struct {
	Time     time.Time
	Host     string
	Site     ddoauth.Site // the region; zero for a host of no served site
	Method   string
	Path     string
	Endpoint Endpoint // "" for a path that is not emulated
	Status   int      // 0 when the connection was dropped or the client gave up
	Fault    bool     // answered by a Fault
	// Form holds the query and the form body, secret values redacted.
	Form url.Values
	// Header holds the request headers; Authorization keeps its scheme
	// ("Basic", "Bearer") with the credential redacted.
	Header http.Header
}

// isSecretParam reports whether a form or query value is a secret.
func isSecretParam(name string) bool {
	switch strings.ToLower(name) {
	case "client_secret", "code", "code_verifier", "refresh_token", "access_token",
		"token", "api_key", "dd-api-key", "dd_api_key", "consent", "password":
		return true
	}
	return false
}

// isSecretHeader reports whether a header (canonical name) carries a
// secret; Authorization is handled apart to keep its scheme.
func isSecretHeader(name string) bool {
	switch name {
	case "Dd-Api-Key", "Dd-Application-Key", "Cookie", "Proxy-Authorization", "X-Api-Key":
		return true
	}
	return false
}

// Fingerprint is how the request log shows a secret: "[redacted " and the
// first 8 hex digits of its SHA-256, then "]". A test can compare a
// logged value with Fingerprint(value) to tell requests apart, for example
// count the token requests that used one code, without the log holding
// the secret.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "[redacted " + hex.EncodeToString(sum[:4]) + "]"
}

func (s *Server) logRequest(r *http.Request, x *exchange, w *statusWriter, fault bool) {
	form := url.Values{}
	for k, v := range r.URL.Query() {
		form[k] = append(form[k], v...)
	}
	for k, v := range x.form {
		form[k] = append(form[k], v...)
	}
	for k, vs := range form {
		if isSecretParam(k) {
			for i, v := range vs {
				vs[i] = Fingerprint(v)
			}
		}
	}
	header := r.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	for k, vs := range header {
		if isSecretHeader(k) {
			for i, v := range vs {
				vs[i] = Fingerprint(v)
			}
		}
	}
	for i, v := range header["Authorization"] {
		scheme, cred, ok := strings.Cut(v, " ")
		if !ok {
			scheme, cred = "", v
		}
		header["Authorization"][i] = strings.TrimSpace(scheme + " " + Fingerprint(strings.TrimSpace(cred)))
	}
	status := w.status
	if status == 0 && !w.dropped && r.Context().Err() == nil {
		status = http.StatusOK // a handler that wrote nothing
	}
	entry := Request{
		Host: x.host, Site: x.site, Method: r.Method, Path: r.URL.Path, Endpoint: x.endpoint,
		Status: status, Fault: fault, Form: form, Header: header,
	}
	w.logged = true
	s.mu.Lock()
	defer s.mu.Unlock()
	entry.Time = s.now()
	s.requests = append(s.requests, entry)
}

// Requests returns the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Form = cloneValues(r.Form)
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Count returns how many logged requests went to endpoint, at every site.
func (s *Server) Count(endpoint Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Endpoint == endpoint {
			n++
		}
	}
	return n
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}
