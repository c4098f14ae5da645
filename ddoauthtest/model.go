package ddoauthtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ddoauth/ddoauth"
)

// Scope names a test needs often.
const (
	// ScopeAPIKeysWrite is Datadog's private partner scope that allows
	// creating the organization's API key.
	ScopeAPIKeysWrite = "api_keys_write"
	// ScopeEventsRead allows reading events with a bearer token.
	ScopeEventsRead = "events_read"
)

// OAuthClient is an OAuth client as registered in Datadog's Developer
// Platform.
type OAuthClient struct {
	ID           string
	Secret       string
	RedirectURIs []string // matched exactly, as Datadog does
	Scopes       []string // granted on every authorization

	// Published clients may be authorized by any organization. An
	// unpublished client may be authorized only by SandboxOrg (an org ID),
	// Datadog's partner sandbox; for everyone else it does not exist.
	Published  bool
	SandboxOrg string

	// Sites, if set, are the only sites whose Developer Platform knows
	// the client: elsewhere its ID is unknown, as for a partner that
	// registers a client per region. Empty means every site.
	Sites []ddoauth.Site
}

// at reports whether c is registered at site.
func (c *OAuthClient) at(site ddoauth.Site) bool {
	return len(c.Sites) == 0 || slices.ContainsFunc(c.Sites, site.SameRegion)
}

// Org is a Datadog organization. It lives in one site and may have a
// custom subdomain for its web app (acme.datadoghq.com).
type Org struct {
	ID        string
	Name      string
	Site      ddoauth.Site // the region; a subdomain on it is read as Subdomain
	Subdomain string       // custom web-app subdomain label, "" for none

	// UUID is the organization's UUID: the callback sends it as dd_oid,
	// and the authorize page takes it as dd_oid to choose the
	// organization. Empty means ID when ID is a UUID, else one derived
	// from ID, the same in every run.
	UUID string
}

// BrowserHost is where the org's users open Datadog: the subdomain host
// when the org has one.
func (o Org) BrowserHost() string {
	if o.Subdomain != "" {
		return o.Subdomain + "." + o.Site.Domain()
	}
	return o.Site.BrowserHost()
}

// APIKey describes an organization's partner API key. The key value
// itself is returned once, by the API-key endpoint, and is kept nowhere
// a test could read it again: only Last4 stays visible, as in Datadog.
type APIKey struct {
	ID        string
	OrgID     string
	ClientID  string // the OAuth client whose token created it
	Site      ddoauth.Site
	Name      string // always "OAuth Client API Key"
	Last4     string
	CreatedAt time.Time
}

type authCode struct {
	clientID, redirectURI, challenge string
	site                             ddoauth.Site
	orgID                            string
	scopes                           []string
	expires                          time.Time
	used                             bool
	grant                            *grant // issued from this code, revoked on reuse
}

type consent struct {
	clientID, redirectURI, state string
	challenge                    string
	site                         ddoauth.Site // region that issues the code
	origin                       string       // https://<browser host>, for site=
	orgID                        string
	scopes                       []string
	expires                      time.Time
}

type grant struct {
	clientID, orgID string
	site            ddoauth.Site
	scopes          []string
	refresh         string
	revoked         bool
}

type accessToken struct {
	grant   *grant
	expires time.Time
	revoked bool
}

type apiKey struct {
	APIKey
	value   string
	revoked bool
}

// secret returns n random bytes, base64url-encoded.
func secret(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // never fails since Go 1.24
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // never fails since Go 1.24
	b[6] = b[6]&0x0f | 0x40
	return formatUUID(b)
}

// orgUUID is the UUID of an org whose ID is id: id itself if it is one,
// else a version 8 UUID made of its hash, so that tests see the same
// dd_oid in every run.
func orgUUID(id string) string {
	if isUUID(id) {
		return id
	}
	sum := sha256.Sum256([]byte("ddoauthtest org\x00" + id))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x80
	return formatUUID(b)
}

// formatUUID sets the RFC 9562 variant on b, 16 bytes, and formats it.
func formatUUID(b []byte) string {
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// isUUID reports whether s is a UUID in 8-4-4-4-12 hexadecimal form, in
// any case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// AddSite makes the server answer for a site that is not built in, such
// as one made with [ddoauth.NewSite], and gives it a default organization
// like the built-in ones. It panics for the zero Site or a site already
// served.
func (s *Server) AddSite(site ddoauth.Site) {
	if site.IsZero() {
		panic("ddoauthtest: AddSite with the zero Site")
	}
	site = site.Region()
	s.mu.Lock()
	for _, have := range s.sites {
		if have.Domain() == site.Domain() {
			s.mu.Unlock()
			panic("ddoauthtest: AddSite: site " + site.Domain() + " already served")
		}
	}
	s.sites = append(s.sites, site)
	s.leaf = nil
	s.mu.Unlock()
	s.AddOrg(Org{ID: strings.ToLower(site.Name()) + "-org", Name: "Default " + site.Name(), Site: site})
}

// Sites returns the sites the server answers for, built-in ones first.
func (s *Server) Sites() []ddoauth.Site {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sites)
}

// site returns the served region with the domain of site, or the zero Site.
// Called with s.mu held.
func (s *Server) site(domain string) ddoauth.Site {
	for _, have := range s.sites {
		if have.Domain() == domain {
			return have
		}
	}
	return ddoauth.Site{}
}

// AddClient registers an OAuth client. It panics if the ID or secret is
// empty, the ID is taken, or no redirect URI is given.
func (s *Server) AddClient(c OAuthClient) {
	if c.ID == "" || c.Secret == "" {
		panic("ddoauthtest: AddClient needs an ID and a Secret")
	}
	if len(c.RedirectURIs) == 0 {
		panic("ddoauthtest: AddClient needs at least one redirect URI")
	}
	for _, u := range c.RedirectURIs {
		if p, err := url.Parse(u); err != nil || !p.IsAbs() || p.Fragment != "" {
			panic(fmt.Sprintf("ddoauthtest: AddClient: redirect URI %q is not an absolute URL without fragment", u))
		}
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.Scopes = slices.Clone(c.Scopes)
	c.Sites = slices.Clone(c.Sites)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.ID]; ok {
		panic("ddoauthtest: AddClient: client ID " + c.ID + " already registered")
	}
	s.clients[c.ID] = &c
}

// NewClient registers a published OAuth client with a fresh ID and secret
// and returns it. With no scopes it gets [ScopeAPIKeysWrite] and
// [ScopeEventsRead].
func (s *Server) NewClient(redirectURI string, scopes ...string) OAuthClient {
	if len(scopes) == 0 {
		scopes = []string{ScopeAPIKeysWrite, ScopeEventsRead}
	}
	c := OAuthClient{
		ID:           newUUID(),
		Secret:       "ddtest_" + secret(24),
		RedirectURIs: []string{redirectURI},
		Scopes:       scopes,
		Published:    true,
	}
	s.AddClient(c)
	return c
}

// RotateSecret replaces a client's secret, as the Developer Platform does:
// only one secret is active at a time, so the old one stops working at
// once. It returns the new secret and panics for an unknown client.
func (s *Server) RotateSecret(clientID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[clientID]
	if !ok {
		panic("ddoauthtest: RotateSecret: unknown client " + clientID)
	}
	c.Secret = "ddtest_" + secret(24)
	return c.Secret
}

// AddOrg registers an organization and returns it as stored. An empty ID
// gets a fresh one; an empty Name gets the ID; an empty UUID gets one (see
// Org.UUID). Name is sent as it is on the callback (dd_org_name), so a
// test may give a hostile one. It panics if the site is not served, the ID
// or UUID is taken, the UUID is not one, or the subdomain is malformed,
// reserved or taken on that site.
func (s *Server) AddOrg(o Org) Org {
	if o.Site.IsZero() {
		panic("ddoauthtest: AddOrg needs a Site")
	}
	if sub := o.Site.Org(); sub != "" {
		if o.Subdomain != "" && o.Subdomain != sub {
			panic("ddoauthtest: AddOrg: Site and Subdomain name different subdomains")
		}
		o.Subdomain = sub
	}
	if o.ID == "" {
		o.ID = newUUID()
	}
	if o.Name == "" {
		o.Name = o.ID
	}
	if o.UUID == "" {
		o.UUID = orgUUID(o.ID)
	}
	if !isUUID(o.UUID) {
		panic(fmt.Sprintf("ddoauthtest: AddOrg: UUID %q is not a UUID", o.UUID))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	region := s.site(o.Site.Domain())
	if region.IsZero() {
		panic("ddoauthtest: AddOrg: site " + o.Site.String() + " is not served; add it with AddSite")
	}
	o.Site = region
	if _, ok := s.orgs[o.ID]; ok {
		panic("ddoauthtest: AddOrg: org ID " + o.ID + " already registered")
	}
	if have := s.orgByUUID(o.UUID); have != nil {
		panic("ddoauthtest: AddOrg: UUID " + o.UUID + " already used by org " + have.ID)
	}
	if o.Subdomain != "" {
		if reason := s.badSubdomain(o.Subdomain, region); reason != "" {
			panic(fmt.Sprintf("ddoauthtest: AddOrg: subdomain %q %s", o.Subdomain, reason))
		}
	}
	s.orgs[o.ID] = &o
	s.orgOrder = append(s.orgOrder, o.ID)
	return o
}

// badSubdomain says why label cannot be an org subdomain of region, or "".
// Called with s.mu held.
func (s *Server) badSubdomain(label string, region ddoauth.Site) string {
	if len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' ||
		strings.ContainsFunc(label, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }) {
		return "is not a lower-case DNS label"
	}
	host := label + "." + region.Domain()
	for _, site := range s.sites {
		for _, h := range siteHosts(site) {
			if h == host {
				return "is a Datadog host"
			}
		}
	}
	switch label {
	case "app", "api", "www", "http-intake", "intake":
		return "is reserved"
	}
	if _, err := ddoauth.ResolveSite(region.Domain()); err == nil { // a built-in site
		if got, err := ddoauth.ResolveSite(host); err != nil || got.Org() != label {
			return "is not a subdomain ddoauth.ResolveSite accepts"
		}
	}
	for _, o := range s.orgs {
		if o.Subdomain == label && o.Site.Domain() == region.Domain() {
			return "is taken by org " + o.ID
		}
	}
	return ""
}

// orgByUUID returns the org with this UUID, in any case, or nil. Called
// with s.mu held.
func (s *Server) orgByUUID(uuid string) *Org {
	for _, id := range s.orgOrder {
		if o := s.orgs[id]; strings.EqualFold(o.UUID, uuid) {
			return o
		}
	}
	return nil
}

// Org returns the organization with the given ID.
func (s *Server) Org(id string) (Org, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orgs[id]
	if !ok {
		return Org{}, false
	}
	return *o, true
}

// Orgs returns the organizations of site's region in the order they were
// added, or all organizations for the zero Site.
func (s *Server) Orgs(site ddoauth.Site) []Org {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Org
	for _, id := range s.orgOrder {
		if o := s.orgs[id]; site.IsZero() || o.Site.Domain() == site.Domain() {
			out = append(out, *o)
		}
	}
	return out
}

// DefaultOrg returns the first organization of site's region: the one
// [NewUnstartedServer] or [Server.AddSite] created. It panics if the
// region has none.
func (s *Server) DefaultOrg(site ddoauth.Site) Org {
	if site.IsZero() {
		panic("ddoauthtest: DefaultOrg with the zero Site")
	}
	orgs := s.Orgs(site)
	if len(orgs) == 0 {
		panic("ddoauthtest: DefaultOrg: no organization in site " + site.Domain())
	}
	return orgs[0]
}

// SignIn makes orgID the organization the browser user is signed in to,
// for authorizations at its site's browser host (see [Server.ServeHTTP]
// for how the user's organization is chosen). "" signs out. It panics for
// an unknown org.
func (s *Server) SignIn(orgID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[orgID]; !ok && orgID != "" {
		panic("ddoauthtest: SignIn: unknown org " + orgID)
	}
	s.signedIn = orgID
}

// RevokeTokens plays the customer uninstalling the integration: every
// grant of the organization is revoked, so its refresh tokens answer
// invalid_grant and its access tokens are refused.
func (s *Server) RevokeTokens(orgID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.grants {
		if g.orgID == orgID {
			s.revokeGrant(g)
		}
	}
}

// revokeGrant is called with s.mu held.
func (s *Server) revokeGrant(g *grant) {
	g.revoked = true
	delete(s.grants, g.refresh)
}

// APIKey returns the organization's live partner API key, without its
// value, and whether there is one.
func (s *Server) APIKey(orgID string) (APIKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[orgID]
	if !ok {
		return APIKey{}, false
	}
	return k.APIKey, true
}

// RevokeAPIKey plays the customer revoking the key named "OAuth Client
// API Key" in the API Keys settings: it stops validating and being
// accepted by the intakes, and the API-key endpoint may create a new one.
// It reports whether there was a key.
func (s *Server) RevokeAPIKey(orgID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[orgID]
	if !ok {
		return false
	}
	k.revoked = true
	delete(s.keys, orgID)
	delete(s.keyByVal, k.value)
	return true
}
