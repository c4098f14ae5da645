package ddoauthtest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ddoauth/ddoauth"
)

// Datadog's documented error strings (partner guide, troubleshooting).
const (
	descInvalidClientID  = "Invalid client_id parameter value"
	descRedirectMismatch = "Mismatching redirect URI"
	descInvalidCode      = "Invalid code or code verifier"
)

// authzResult is the outcome of an authorize step: an error page, a
// consent page or a redirect to the client.
type authzResult struct {
	status      int
	code, desc  string // error page
	consentPage string
	formTarget  string // the redirect URI's origin, where the consent form's redirect goes
	location    string
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request, x *exchange) {
	s.writeAuthz(w, s.authorizeResult(r, x))
}

func (s *Server) authorizeResult(r *http.Request, x *exchange) authzResult {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()

	org, res := s.browserOrg(r, x)
	if org == nil {
		return res
	}
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(q[k]) > 1 {
			return errorPage(http.StatusBadRequest, "invalid_request", "Duplicate "+k+" parameter")
		}
	}
	c := s.clients[q.Get("client_id")]
	if c == nil || !c.at(x.site) || !c.Published && c.SandboxOrg != org.ID {
		return errorPage(http.StatusBadRequest, "invalid_request", descInvalidClientID)
	}
	redirectURI := q.Get("redirect_uri")
	if !slices.Contains(c.RedirectURIs, redirectURI) {
		return errorPage(http.StatusBadRequest, "invalid_request", descRedirectMismatch)
	}

	// From here on errors go back to the client (RFC 6749 §4.1.2.1).
	region := org.Site
	origin := "https://" + x.host
	if region.Domain() != x.site.Domain() {
		origin = "https://" + region.BrowserHost() // the user picked another region
	}
	state := q.Get("state")
	fail := func(code, desc string) authzResult {
		return authzResult{status: http.StatusFound, location: s.callbackURL(redirectURI, region, origin, url.Values{
			"error": {code}, "error_description": {desc}}, state)}
	}
	for _, k := range []string{"response_type", "state", "code_challenge", "code_challenge_method", "scope"} {
		if len(q[k]) > 1 {
			return fail("invalid_request", "Duplicate "+k+" parameter")
		}
	}
	if rt := q.Get("response_type"); rt != "code" {
		return fail("unsupported_response_type", "response_type must be code")
	}
	challenge := q.Get("code_challenge")
	if challenge == "" {
		return fail("invalid_request", "code_challenge is required")
	}
	if q.Get("code_challenge_method") != "S256" {
		return fail("invalid_request", "code_challenge_method must be S256")
	}
	if !isChallenge(challenge) {
		return fail("invalid_request", "code_challenge must be 43 base64url characters")
	}
	scopes := c.Scopes
	if sc := q.Get("scope"); sc != "" {
		scopes = strings.Fields(sc)
		for _, sc := range scopes {
			if !slices.Contains(c.Scopes, sc) {
				return fail("invalid_scope", "Scope "+sc+" is not configured on this client")
			}
		}
	}
	cs := &consent{
		clientID: c.ID, redirectURI: redirectURI, state: state, challenge: challenge,
		site: region, origin: origin, orgID: org.ID, scopes: slices.Clone(scopes),
		expires: s.now().Add(consentTTL),
	}
	if s.AutoConsent {
		return authzResult{status: http.StatusFound, location: s.approve(cs)}
	}
	id := secret(24)
	s.consents[id] = cs
	target := ""
	if u, err := url.Parse(redirectURI); err == nil && u.Host != "" {
		target = " " + u.Scheme + "://" + u.Host
	}
	return authzResult{status: http.StatusOK, consentPage: consentPage(id, c, org, cs), formTarget: target}
}

// consentTTL bounds how long the consent page may stay open.
const consentTTL = 10 * time.Minute

// browserOrg picks the browser user's organization (see ServeHTTP). Called
// with s.mu held.
func (s *Server) browserOrg(r *http.Request, x *exchange) (*Org, authzResult) {
	if oids, ok := r.URL.Query()["dd_oid"]; ok {
		// The partner names the organization: Datadog skips its
		// organization switcher.
		if len(oids) != 1 {
			return nil, errorPage(http.StatusBadRequest, "invalid_request", "Duplicate dd_oid parameter")
		}
		o := s.orgByUUID(oids[0])
		if o == nil || o.Site.Domain() != x.site.Domain() || x.sub != "" && o.Subdomain != x.sub {
			return nil, errorPage(http.StatusBadRequest, "invalid_request", "No organization with this dd_oid at "+x.host)
		}
		return o, authzResult{}
	}
	if x.sub != "" {
		for _, id := range s.orgOrder {
			if o := s.orgs[id]; o.Subdomain == x.sub && o.Site.Domain() == x.site.Domain() {
				return o, authzResult{}
			}
		}
		return nil, errorPage(http.StatusNotFound, "not_found", "No organization uses "+x.host)
	}
	var ids []string
	if ck, err := r.Cookie(OrgCookie); err == nil {
		ids = append(ids, ck.Value)
	}
	ids = append(ids, s.signedIn)
	picker := x.site.Name() == "US1" && x.host == x.site.BrowserHost()
	for _, id := range ids {
		if o := s.orgs[id]; o != nil && (o.Site.Domain() == x.site.Domain() || picker) {
			return o, authzResult{}
		}
	}
	for _, id := range s.orgOrder {
		if o := s.orgs[id]; o.Site.Domain() == x.site.Domain() {
			return o, authzResult{}
		}
	}
	return nil, errorPage(http.StatusBadRequest, "invalid_request", "No organization in this site")
}

// OrgCookie is the cookie a browser-driving test may set to the ID of the
// organization the user is signed in to (see [Server.ServeHTTP]).
const OrgCookie = "ddoauthtest_org"

func errorPage(status int, code, desc string) authzResult {
	return authzResult{status: status, code: code, desc: desc}
}

func (s *Server) writeAuthz(w http.ResponseWriter, res authzResult) {
	h := w.Header()
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	switch {
	case res.location != "":
		http.Redirect(w, &http.Request{Method: http.MethodGet}, res.location, http.StatusFound)
	case res.consentPage != "":
		h.Set("Content-Type", "text/html; charset=utf-8")
		// Browsers hold form-action to the redirect after the post too.
		h.Set("Content-Security-Policy", "default-src 'none'; form-action 'self'"+res.formTarget)
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, res.consentPage)
	default:
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(res.status)
		fmt.Fprintf(w, `<!doctype html><html><head><title>Datadog authorization error</title></head><body>
<h1>Authorization error</h1>
<p><code id="error">%s</code> - <span id="error_description">%s</span></p>
</body></html>
`, html.EscapeString(res.code), html.EscapeString(res.desc))
	}
}

func consentPage(id string, c *OAuthClient, org *Org, cs *consent) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<!doctype html><html><head><title>Authorize access to Datadog</title></head><body>
<h1>Authorize %s</h1>
<p>Organization <strong id="org">%s</strong> (%s)</p>
<ul id="scopes">`, html.EscapeString(c.ID), html.EscapeString(org.Name), html.EscapeString(cs.site.Name()))
	for _, sc := range cs.scopes {
		fmt.Fprintf(&b, "<li>%s</li>", html.EscapeString(sc))
	}
	fmt.Fprintf(&b, `</ul>
<form method="post" action="authorize">
<input type="hidden" name="consent" value="%s">
<button type="submit" name="decision" value="approve">Authorize</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></body></html>
`, html.EscapeString(id))
	return b.String()
}

// consentDecision handles the consent form.
func (s *Server) consentDecision(w http.ResponseWriter, _ *http.Request, x *exchange) {
	s.writeAuthz(w, s.decide(x))
}

func (s *Server) decide(x *exchange) authzResult {
	if !x.isForm || x.formErr {
		return errorPage(http.StatusBadRequest, "invalid_request", "Malformed consent form")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := x.form.Get("consent")
	cs := s.consents[id]
	delete(s.consents, id)
	if cs == nil || s.now().After(cs.expires) {
		return errorPage(http.StatusBadRequest, "invalid_request", "Authorization request expired or already answered; start again")
	}
	switch x.form.Get("decision") {
	case "approve":
		return authzResult{status: http.StatusFound, location: s.approve(cs)}
	case "deny":
		return authzResult{status: http.StatusFound, location: s.callbackURL(cs.redirectURI, cs.site, cs.origin,
			url.Values{"error": {"access_denied"}, "error_description": {"The user denied access"}}, cs.state)}
	}
	return errorPage(http.StatusBadRequest, "invalid_request", "Unknown decision")
}

// approve issues a code and returns the callback URL. Called with s.mu held.
func (s *Server) approve(cs *consent) string {
	code := secret(32)
	s.codes[code] = &authCode{
		clientID: cs.clientID, redirectURI: cs.redirectURI, challenge: cs.challenge,
		site: cs.site, orgID: cs.orgID, scopes: cs.scopes, expires: s.now().Add(s.codeTTL()),
	}
	params := url.Values{"code": {code}}
	if o := s.orgs[cs.orgID]; o != nil && !s.OmitOrg {
		params.Set("dd_oid", o.UUID)
		params.Set("dd_org_name", o.Name)
	}
	return s.callbackURL(cs.redirectURI, cs.site, cs.origin, params, cs.state)
}

// callbackURL adds params, state and the site (per CallbackStyle) to the
// redirect URI, keeping its own query (RFC 6749 §3.1.2).
func (s *Server) callbackURL(redirectURI string, region ddoauth.Site, origin string, params url.Values, state string) string {
	u, _ := url.Parse(redirectURI) // checked by AddClient
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if state != "" {
		q.Set("state", state)
	}
	switch s.CallbackStyle {
	case CallbackDomain:
		q.Set("domain", region.Domain())
	case CallbackSite:
		q.Set("site", origin)
	case CallbackBoth:
		q.Set("domain", region.Domain())
		q.Set("site", origin)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func isChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil
}

func isVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// oauthError writes an RFC 6749 §5.2 error.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc}) //nolint:errcheck
}

// restErrors writes Datadog's REST error shape, {"errors": [...]}.
func restErrors(w http.ResponseWriter, status int, msgs ...string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string][]string{"errors": msgs}) //nolint:errcheck
}

type oauthFail struct {
	status     int
	code, desc string
}

// authClient checks client_id and client_secret in the form body, the only
// place Datadog reads them, for a client registered at site. Called with
// s.mu held.
func (s *Server) authClient(form url.Values, site ddoauth.Site) (*OAuthClient, *oauthFail) {
	id, sec := form.Get("client_id"), form.Get("client_secret")
	if id == "" || sec == "" {
		return nil, &oauthFail{http.StatusUnauthorized, "invalid_client",
			"Client authentication failed: client_id and client_secret must be sent in the request body"}
	}
	c := s.clients[id]
	if c == nil || !c.at(site) || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(sec)) != 1 {
		return nil, &oauthFail{http.StatusUnauthorized, "invalid_client", "Client authentication failed"}
	}
	return c, nil
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
}

func (s *Server) token(w http.ResponseWriter, _ *http.Request, x *exchange) {
	resp, fail := s.tokenResult(x)
	if fail != nil {
		oauthError(w, fail.status, fail.code, fail.desc)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	json.NewEncoder(w).Encode(resp) //nolint:errcheck
}

func (s *Server) tokenResult(x *exchange) (*tokenResponse, *oauthFail) {
	if !x.isForm {
		return nil, &oauthFail{http.StatusBadRequest, "invalid_request", descInvalidCode}
	}
	if x.formErr {
		return nil, &oauthFail{http.StatusBadRequest, "invalid_request", "Malformed request body"}
	}
	f := x.form
	s.mu.Lock()
	defer s.mu.Unlock()
	c, fail := s.authClient(f, x.site)
	if fail != nil {
		if ac := s.codes[f.Get("code")]; s.ConsumeCodeOnAuthFailure && ac != nil &&
			f.Get("grant_type") == "authorization_code" && ac.site.Domain() == x.site.Domain() {
			ac.used = true
		}
		return nil, fail
	}
	invalidGrant := func(desc string) (*tokenResponse, *oauthFail) {
		return nil, &oauthFail{http.StatusBadRequest, "invalid_grant", desc}
	}
	now := s.now()
	var g *grant
	switch f.Get("grant_type") {
	case "authorization_code":
		ac := s.codes[f.Get("code")]
		// A code from another site, or issued to another client, is unknown
		// here and left untouched.
		if ac == nil || ac.site.Domain() != x.site.Domain() || ac.clientID != c.ID {
			return invalidGrant(descInvalidCode)
		}
		if ac.used {
			// RFC 6749 §4.1.2: a reused code revokes what it issued.
			if ac.grant != nil {
				s.revokeGrant(ac.grant)
			}
			return invalidGrant(descInvalidCode)
		}
		ac.used = true // the first attempt consumes the code, even a failing one
		switch v := f.Get("code_verifier"); {
		case now.After(ac.expires):
			return invalidGrant(descInvalidCode)
		case f.Get("redirect_uri") != ac.redirectURI:
			return invalidGrant(descRedirectMismatch)
		case !isVerifier(v), subtle.ConstantTimeCompare([]byte(s256(v)), []byte(ac.challenge)) != 1:
			return invalidGrant(descInvalidCode)
		}
		g = &grant{clientID: c.ID, orgID: ac.orgID, site: ac.site, scopes: ac.scopes, refresh: secret(32)}
		s.grants[g.refresh] = g
		ac.grant = g
	case "refresh_token":
		rt := f.Get("refresh_token")
		g = s.grants[rt]
		if g == nil {
			// Reuse of a rotated-out token: a thief or a client that lost
			// a race. With reuse detection both lose the grant.
			if old := s.retired[rt]; s.RevokeOnRefreshReuse && old != nil && old.clientID == c.ID &&
				old.site.Domain() == x.site.Domain() {
				s.revokeGrant(old)
			}
			return invalidGrant("Invalid refresh token")
		}
		if g.revoked || g.clientID != c.ID || g.site.Domain() != x.site.Domain() {
			return invalidGrant("Invalid refresh token")
		}
		if s.RotateRefreshTokens {
			delete(s.grants, g.refresh)
			s.retired[g.refresh] = g
			g.refresh = secret(32)
			s.grants[g.refresh] = g
		}
	case "":
		return nil, &oauthFail{http.StatusBadRequest, "invalid_request", "grant_type is required"}
	default:
		return nil, &oauthFail{http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant_type"}
	}
	at := secret(32)
	ttl := s.accessTTL()
	s.access[at] = &accessToken{grant: g, expires: now.Add(ttl)}
	return &tokenResponse{
		AccessToken:  at,
		RefreshToken: g.refresh,
		TokenType:    "bearer",
		ExpiresIn:    int64(ttl.Seconds()),
		Scope:        strings.Join(g.scopes, " "),
	}, nil
}

// revoke implements RFC 7009. Revoking a refresh token revokes its grant
// and every access token of it; revoking an access token revokes only
// that token. Unknown tokens, and tokens of another client or site,
// answer 200 and stay valid.
func (s *Server) revoke(w http.ResponseWriter, _ *http.Request, x *exchange) {
	if fail := s.revokeResult(x); fail != nil {
		oauthError(w, fail.status, fail.code, fail.desc)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (s *Server) revokeResult(x *exchange) *oauthFail {
	if !x.isForm || x.formErr {
		return &oauthFail{http.StatusBadRequest, "invalid_request", "Request must be form-encoded"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, fail := s.authClient(x.form, x.site)
	if fail != nil {
		return fail
	}
	tok := x.form.Get("token")
	if tok == "" {
		return &oauthFail{http.StatusBadRequest, "invalid_request", "token is required"}
	}
	mine := func(g *grant) bool { return g.clientID == c.ID && g.site.Domain() == x.site.Domain() }
	if g := s.grants[tok]; g != nil && mine(g) {
		s.revokeGrant(g)
	}
	if at := s.access[tok]; at != nil && mine(at.grant) {
		at.revoked = true
	}
	return nil
}

// bearer returns the valid access token the request carries for this
// site, or nil. Called with s.mu held.
func (s *Server) bearer(r *http.Request, x *exchange) *accessToken {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil
	}
	at := s.access[strings.TrimSpace(tok)]
	if at == nil || at.revoked || at.grant.revoked || at.grant.site.Domain() != x.site.Domain() ||
		!s.now().Before(at.expires) {
		return nil
	}
	return at
}
