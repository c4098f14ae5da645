package ddoauthtest

import (
	"bytes"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/ddoauth/ddoauth"
)

// Endpoint names one emulated endpoint, for [Server.Fail] and the request log.
type Endpoint string

// The emulated endpoints.
const (
	EndpointAuthorize Endpoint = "authorize" // GET and consent POST /oauth2/v1/authorize on the browser host
	EndpointToken     Endpoint = "token"     // POST api.<domain>/oauth2/v1/token
	EndpointRevoke    Endpoint = "revoke"    // POST api.<domain>/oauth2/v1/revoke
	EndpointAPIKey    Endpoint = "api_key"   // POST api.<domain>/api/v2/api_keys/marketplace
	EndpointValidate  Endpoint = "validate"  // GET api.<domain>/api/v1/validate
	EndpointSeries    Endpoint = "series"    // POST api.<domain>/api/v2/series or /api/v1/series
	EndpointEvents    Endpoint = "events"    // POST and GET api.<domain>/api/v1/events
	EndpointLogs      Endpoint = "logs"      // POST http-intake.logs.<domain>/api/v2/logs or /v1/input
)

type hostKind int

const (
	hostUnknown hostKind = iota // not a Datadog host: 421
	hostBrowser                 // web app, authorize
	hostAPI                     // api.<domain>
	hostLogs                    // http-intake.logs.<domain>
	hostOther                   // a Datadog host not emulated: 404
)

// exchange is what ServeHTTP learned about a request before handling it.
type exchange struct {
	host     string
	kind     hostKind
	site     ddoauth.Site // region
	sub      string       // org subdomain on a browser host
	endpoint Endpoint
	isForm   bool       // Content-Type is application/x-www-form-urlencoded
	form     url.Values // the parsed form body, when isForm
	formErr  bool       // the form body was malformed or too large
}

// maxForm caps form bodies of the OAuth endpoints.
const maxForm = 64 << 10

// ServeHTTP routes by the request's Host, as Datadog's front ends do, so
// it works behind [Server.Client], [Server.Transport] or any listener.
//
// Browser hosts (app.datadoghq.com, us5.datadoghq.com, and one-label org
// subdomains such as acme.datadoghq.com) serve GET /oauth2/v1/authorize
// and the consent form it posts back. The organization the browser user
// authorizes for is, in order: the org whose UUID the dd_oid parameter
// names (it must be of the host's site and subdomain); the org of the
// subdomain host; the org
// named by the "ddoauthtest_org" cookie; the org given to
// [Server.SignIn]; the first org of the site. A cookie or sign-in naming
// an org of another site counts only at app.datadoghq.com, where it
// plays the user picking their region: the code is then issued by, and the
// callback names, that org's site.
//
// api.<domain> serves the token, revoke, API-key, validate, series and
// events endpoints; http-intake.logs.<domain> serves logs. Other hosts of
// a served site answer 404; other hosts 421 Misdirected Request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := s.route(r)
	readForm(r, x)
	sw := &statusWriter{ResponseWriter: w}
	f := s.takeFault(x)
	if f != nil {
		s.serveFault(sw, r, x, f)
	} else {
		s.dispatch(sw, r, x)
	}
	if !sw.logged {
		s.logRequest(r, x, sw, f != nil)
	}
}

func (s *Server) route(r *http.Request) *exchange {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	x := &exchange{host: host}

	s.mu.Lock()
	var best ddoauth.Site
	for _, site := range s.sites {
		if strings.TrimPrefix(site.BrowserIntakeURL(), "https://") == host {
			x.kind, x.site = hostOther, site
			s.mu.Unlock()
			return x
		}
		d := site.Domain()
		if (host == d || strings.HasSuffix(host, "."+d)) && len(d) > len(best.Domain()) {
			best = site
		}
	}
	s.mu.Unlock()
	if best.IsZero() {
		return x
	}
	x.site = best
	d := best.Domain()
	switch host {
	case best.BrowserHost():
		x.kind = hostBrowser
	case "api." + d:
		x.kind = hostAPI
	case "http-intake.logs." + d:
		x.kind = hostLogs
	default:
		x.kind = hostOther
		if label := strings.TrimSuffix(host, "."+d); label != host && !strings.Contains(label, ".") {
			switch label {
			case "app", "api", "www":
			default:
				x.kind, x.sub = hostBrowser, label
			}
		}
	}
	path := r.URL.Path
	switch {
	case x.kind == hostBrowser && path == "/oauth2/v1/authorize":
		x.endpoint = EndpointAuthorize
	case x.kind == hostAPI && path == "/oauth2/v1/token":
		x.endpoint = EndpointToken
	case x.kind == hostAPI && path == "/oauth2/v1/revoke":
		x.endpoint = EndpointRevoke
	case x.kind == hostAPI && path == "/api/v2/api_keys/marketplace":
		x.endpoint = EndpointAPIKey
	case x.kind == hostAPI && path == "/api/v1/validate":
		x.endpoint = EndpointValidate
	case x.kind == hostAPI && (path == "/api/v2/series" || path == "/api/v1/series"):
		x.endpoint = EndpointSeries
	case x.kind == hostAPI && path == "/api/v1/events":
		x.endpoint = EndpointEvents
	case x.kind == hostLogs && (path == "/api/v2/logs" || path == "/v1/input"):
		x.endpoint = EndpointLogs
	}
	return x
}

// readForm parses a form body up front, for the handlers and the request
// log, and leaves the bytes readable again.
func readForm(r *http.Request, x *exchange) {
	if r.Body == nil || r.Method != http.MethodPost {
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return
	}
	x.isForm = true
	data, err := io.ReadAll(io.LimitReader(r.Body, maxForm+1))
	r.Body = io.NopCloser(bytes.NewReader(data))
	if err != nil || len(data) > maxForm {
		x.formErr = true
		return
	}
	form, err := url.ParseQuery(string(data))
	if err != nil {
		x.formErr = true
	}
	x.form = form
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, x *exchange) {
	switch x.kind {
	case hostUnknown:
		http.Error(w, "421 Misdirected Request: ddoauthtest does not serve "+x.host, http.StatusMisdirectedRequest)
		return
	case hostOther:
		restErrors(w, http.StatusNotFound, "Not found")
		return
	}
	type handler func(http.ResponseWriter, *http.Request, *exchange)
	var h handler
	methods := []string{http.MethodPost}
	switch x.endpoint {
	case EndpointAuthorize:
		methods = []string{http.MethodGet, http.MethodPost}
		h = s.authorize
		if r.Method == http.MethodPost {
			h = s.consentDecision
		}
	case EndpointToken:
		h = s.token
	case EndpointRevoke:
		h = s.revoke
	case EndpointAPIKey:
		h = s.createAPIKey
	case EndpointValidate:
		methods = []string{http.MethodGet}
		h = s.validate
	case EndpointSeries, EndpointLogs:
		h = s.intake
	case EndpointEvents:
		methods = []string{http.MethodGet, http.MethodPost}
		h = s.intake
		if r.Method == http.MethodGet {
			h = s.listEvents
		}
	default:
		if x.kind == hostBrowser {
			http.Error(w, "404 page not found", http.StatusNotFound)
		} else {
			restErrors(w, http.StatusNotFound, "Not found")
		}
		return
	}
	allowed := false
	for _, m := range methods {
		allowed = allowed || r.Method == m
	}
	if !allowed {
		w.Header().Set("Allow", strings.Join(methods, ", "))
		restErrors(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	h(w, r, x)
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status  int
	dropped bool
	logged  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
