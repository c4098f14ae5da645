package ddoauthtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ddoauth/ddoauth"
)

// Fault makes an endpoint misbehave; see [Server.Fail]. A Fault that sets
// only Delay (and Header) slows the request and then serves it normally.
// Otherwise the first of these that is set decides the answer:
// DropConnection, RedirectTo, MalformedJSON, OversizedBody, then
// Status/Body/RetryAfter/RateLimitReset.
type Fault struct {
	// Times is how many matching requests fail: 0 means 1, negative
	// means every one until [Server.ClearFaults].
	Times int
	// Site limits the fault to one site's hosts; the zero Site matches all.
	Site ddoauth.Site

	// Delay holds the request this long first; a request whose context
	// ends meanwhile gets no answer.
	Delay time.Duration
	// DropConnection closes the connection without an answer.
	DropConnection bool
	// RedirectTo answers 307 Temporary Redirect to this URL (status
	// overridable with Status), to test that credentials are never
	// re-sent to another host.
	RedirectTo string
	// MalformedJSON answers (200 unless Status is set) with truncated JSON.
	MalformedJSON bool
	// OversizedBody answers (200 unless Status is set) with a JSON body
	// larger than 1 MiB.
	OversizedBody bool
	// Status is the answer's status; with only RetryAfter or
	// RateLimitReset set it defaults to 429, otherwise to 503.
	Status int
	// Body is the answer's body; empty means the endpoint's usual error
	// shape for Status.
	Body string
	// RetryAfter sets the Retry-After header, in whole seconds (rounded up).
	RetryAfter time.Duration
	// RateLimitReset is the X-RateLimit-Reset of a 429 answer: the time
	// until the rate limit's period ends, in whole seconds (rounded up).
	// Zero means RetryAfter, or one second. A 429 answer carries
	// Datadog's X-RateLimit-Limit, -Period, -Remaining (0), -Reset and
	// -Name headers (Header overrides them), not Retry-After unless
	// RetryAfter is set.
	RateLimitReset time.Duration
	// Header is added to the answer, and to the normal answer of a
	// delay-only fault.
	Header http.Header
	// AfterProcessing serves the request normally first, discarding the
	// answer, then answers with the fault: a code consumed or a token
	// issued whose response was lost.
	AfterProcessing bool
}

// OversizedBodySize is the size of a [Fault.OversizedBody] answer: more
// than the 1 MiB a client should read of any Datadog response.
const OversizedBodySize = 1<<20 + 64<<10

type faultState struct {
	Fault
	left int // < 0: forever
}

// Fail makes the next f.Times requests to endpoint (at f.Site, if set)
// fail as f describes. Faults queue: a later Fail for the same endpoint
// applies once earlier ones are used up. Faulted requests appear in the
// request log with Fault set. It panics for an unknown endpoint.
func (s *Server) Fail(endpoint Endpoint, f Fault) {
	switch endpoint {
	case EndpointAuthorize, EndpointToken, EndpointRevoke, EndpointAPIKey, EndpointValidate,
		EndpointSeries, EndpointEvents, EndpointLogs:
	default:
		panic(fmt.Sprintf("ddoauthtest: Fail: unknown endpoint %q", endpoint))
	}
	left := f.Times
	if left == 0 {
		left = 1
	}
	f.Header = f.Header.Clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[endpoint] = append(s.faults[endpoint], &faultState{Fault: f, left: left})
}

// ClearFaults removes every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// takeFault returns the fault for this request and counts it down, or nil.
func (s *Server) takeFault(x *exchange) *Fault {
	if x.endpoint == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[x.endpoint]
	for i, fs := range q {
		if !fs.Site.IsZero() && fs.Site.Domain() != x.site.Domain() {
			continue
		}
		f := fs.Fault
		if fs.left > 0 {
			fs.left--
			if fs.left == 0 {
				s.faults[x.endpoint] = append(q[:i:i], q[i+1:]...)
			}
		}
		return &f
	}
	return nil
}

func (f *Fault) delayOnly() bool {
	return !f.DropConnection && f.RedirectTo == "" && !f.MalformedJSON && !f.OversizedBody &&
		f.Status == 0 && f.Body == "" && f.RetryAfter == 0 && f.RateLimitReset == 0
}

func (s *Server) serveFault(w *statusWriter, r *http.Request, x *exchange, f *Fault) {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			// The client gave up: send nothing. A handler that returned
			// would have net/http send an empty 200, which a client whose
			// cancellation raced with its read could take for an answer.
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
	}
	for k, v := range f.Header {
		w.Header()[k] = append(w.Header()[k], v...)
	}
	if f.delayOnly() {
		s.dispatch(w, r, x)
		return
	}
	if f.AfterProcessing {
		s.dispatch(&memWriter{header: http.Header{}}, r, x)
	}
	if f.DropConnection {
		// Logged before the client can see the drop, so a test that reads
		// the log once its request failed finds the entry.
		w.dropped = true
		s.logRequest(r, x, w, true)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
			return
		}
		panic(http.ErrAbortHandler) // HTTP/2 or a writer that cannot hijack
	}
	h := w.Header()
	status := f.Status
	switch {
	case f.RedirectTo != "":
		if status == 0 {
			status = http.StatusTemporaryRedirect
		}
		h.Set("Location", f.RedirectTo)
		w.WriteHeader(status)
		return
	case f.MalformedJSON, f.OversizedBody:
		if status == 0 {
			status = http.StatusOK
		}
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if f.MalformedJSON {
			fmt.Fprint(w, `{"access_token":"`)
			return
		}
		fmt.Fprint(w, `{"padding":"`)
		w.Write([]byte(strings.Repeat("x", OversizedBodySize))) //nolint:errcheck
		fmt.Fprint(w, `"}`)
		return
	}
	if status == 0 {
		status = http.StatusServiceUnavailable
		if f.RetryAfter > 0 || f.RateLimitReset > 0 {
			status = http.StatusTooManyRequests
		}
	}
	seconds := func(d time.Duration) string { return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10) }
	if f.RetryAfter > 0 {
		h.Set("Retry-After", seconds(f.RetryAfter))
	}
	if status == http.StatusTooManyRequests {
		reset := cmp.Or(f.RateLimitReset, f.RetryAfter, time.Second)
		for k, v := range map[string]string{"X-RateLimit-Limit": "100", "X-RateLimit-Period": seconds(max(reset, time.Minute)),
			"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": seconds(reset), "X-RateLimit-Name": string(x.endpoint)} {
			if h.Get(k) == "" { // Header wins
				h.Set(k, v)
			}
		}
	}
	if f.Body != "" {
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		fmt.Fprint(w, f.Body)
		return
	}
	switch x.endpoint {
	case EndpointToken, EndpointRevoke:
		code := "server_error"
		switch {
		case status == http.StatusServiceUnavailable, status == http.StatusTooManyRequests:
			code = "temporarily_unavailable"
		case status == http.StatusUnauthorized:
			code = "invalid_client"
		case status < 500:
			code = "invalid_request"
		}
		oauthError(w, status, code, http.StatusText(status))
	case EndpointAuthorize:
		s.writeAuthz(w, errorPage(status, "server_error", http.StatusText(status)))
	default:
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string][]string{"errors": {http.StatusText(status)}}) //nolint:errcheck
	}
}
