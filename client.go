package ddoauth

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth/internal/redact"
	"github.com/ddoauth/ddoauth/internal/retry"
)

// Config configures a Client. ClientID, one of ClientSecret and
// ClientSecretFunc, and RedirectURL are required; every other zero value
// means the documented default.
type Config struct {
	// ClientID is the OAuth client's ID from Datadog's Developer Platform.
	// Test (private) and published clients have different IDs.
	ClientID string

	// ClientSecret is the OAuth client's secret.
	ClientSecret string

	// ClientSecretFunc, if set, is called for the secret of site's OAuth
	// client on every request that needs it, instead of ClientSecret and
	// the secrets of SiteClients; site is a region, without organization
	// subdomain. Datadog keeps one active secret per client, so a secret
	// read at use time survives rotation without a restart.
	ClientSecretFunc func(ctx context.Context, site Site) (string, error)

	// SiteClients gives the OAuth client of each site where the partner's
	// client has another ID and secret than ClientID and ClientSecret:
	// each site's Developer Platform registers clients of its own (an EU1
	// sandbox yields its own ID and secret), and some partners publish one
	// per region. Keys are site names ("EU1") or domains ("datadoghq.eu"),
	// of built-in sites or of Sites. A site's authorize URL, token
	// exchange, refresh and revocation use its entry; sites without one
	// use ClientID and ClientSecret. With ClientSecretFunc, entries leave
	// ClientSecret empty. Start with the zero Site authorizes with US1's
	// client: a customer of a site whose client differs starts from a link
	// that names the site.
	SiteClients map[string]ClientCredentials

	// RedirectURL is the callback URL registered on the client. It must
	// be https, or http on a loopback address for local development.
	RedirectURL string

	// Scopes, if set, are sent in the authorize request. Datadog grants
	// the scopes configured on the client, so most callers leave it nil.
	Scopes []string

	// HTTPClient sends every request. Nil means a client with a 30 s
	// timeout. Requests that carry credentials never follow redirects,
	// whatever its CheckRedirect says.
	HTTPClient *http.Client

	// RequestTimeout bounds each request to Datadog (a token exchange, a
	// refresh, each revocation, an API key creation) from sending it to
	// reading the last byte of the answer, whatever HTTPClient's own
	// Timeout: an answer that trickles in cannot hold a caller forever.
	// Zero means 30 seconds.
	RequestTimeout time.Duration

	// Logger receives a record for each token exchange, refresh,
	// revocation and API key created, and for failed exchanges and
	// refreshes; none holds a secret. Nil means no logging.
	Logger *slog.Logger

	// Now is the clock. Nil means time.Now.
	Now func() time.Time

	// RefreshMargin is how long before expiry a TokenSource refreshes.
	// Zero means one minute.
	RefreshMargin time.Duration

	// RefreshTimeout bounds one refresh of a TokenSource, retries and
	// store writes included, and one API key creation by EnsureAPIKey.
	// The lease that keeps other replicas from refreshing the same
	// connection lasts a quarter longer, so that a holder finishes before
	// another may take over. Zero means one minute.
	RefreshTimeout time.Duration

	// PendingTTL is how long an authorization may take from Start to
	// Complete. Zero means 10 minutes.
	PendingTTL time.Duration

	// Sites adds Datadog sites this package does not know yet (see
	// NewSite). They are allowlist entries: site values from requests
	// are resolved against the built-in table plus these.
	Sites []Site

	// Telemetry, if set, is told of each callback, code exchange,
	// refresh, lease wait, revocation, API key creation and token
	// request, with its outcome (see package ddoauthotel for
	// OpenTelemetry). Nil means none. Reading a cached token never
	// reaches it.
	Telemetry Telemetry

	// OnEvent, if set, is called when a connection is revoked, when its
	// refreshes keep failing (FailingAfter), when it recovers, and when
	// an API key is created; see [Event]. It runs on the goroutine of the
	// refresh or creation, holding no lock, before the callers waiting
	// for that refresh (or EnsureAPIKey's caller) get its result, so that
	// they see what it did; it delays them, so keep it fast and hand slow
	// work to a goroutine. It may be called concurrently for different
	// connections.
	OnEvent func(ctx context.Context, e Event)

	// FailingAfter is how many refreshes of one connection in a row must
	// fail before OnEvent receives EventFailing. Zero means 3.
	FailingAfter int
}

// ClientCredentials are an OAuth client's ID and secret. Format and
// LogValue leave the secret out.
type ClientCredentials struct {
	ClientID     string
	ClientSecret string
}

// Format prints cc without its secret, for every verb.
func (cc ClientCredentials) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "ddoauth.ClientCredentials{ClientID:%q ClientSecret:%s}", cc.ClientID, redacted(cc.ClientSecret))
}

// LogValue logs cc without its secret.
func (cc ClientCredentials) LogValue() slog.Value { return slog.StringValue(cc.ClientID) }

// Client runs Datadog's OAuth2 authorization code flow with PKCE for
// every Datadog site. Make one with New; the zero Client is not usable. A
// Client is safe for concurrent use; two Clients share no state.
type Client struct {
	clientID       string
	secret         string
	secretFunc     func(context.Context, Site) (string, error)
	siteClients    map[string]ClientCredentials // by region domain
	redirectURL    string
	scopes         []string
	hc             *http.Client // credential-bearing: never follows redirects
	log            *slog.Logger
	now            func() time.Time
	pendingTTL     time.Duration
	refreshMargin  time.Duration
	refreshTimeout time.Duration
	requestTimeout time.Duration
	retry          retry.Policy
	extra          []*siteInfo
	tel            Telemetry
	onEvent        func(context.Context, Event)
	failingAfter   int
}

const (
	defaultPendingTTL = 10 * time.Minute
	defaultTimeout    = 30 * time.Second
)

// New returns a Client for cfg. It returns an error wrapping
// [ErrInvalidConfig] when a required field is missing or malformed.
func New(cfg Config) (*Client, error) {
	bad := func(format string, args ...any) (*Client, error) {
		return nil, &Error{Op: "new client", Err: ErrInvalidConfig, Description: fmt.Sprintf(format, args...)}
	}
	if badClientID(cfg.ClientID) {
		return bad("ClientID is empty or contains spaces or control characters")
	}
	if cfg.ClientSecret == "" && cfg.ClientSecretFunc == nil {
		return bad("one of ClientSecret and ClientSecretFunc is required")
	}
	if cfg.ClientSecret != "" && cfg.ClientSecretFunc != nil {
		return bad("set ClientSecret or ClientSecretFunc, not both")
	}
	if err := checkRedirectURL(cfg.RedirectURL); err != "" {
		return bad("RedirectURL %q: %s", truncate(cfg.RedirectURL, 120), err)
	}
	for _, s := range cfg.Scopes {
		if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '"' || r == '\\' }) {
			return bad("scope %q is not a valid scope token (RFC 6749 §3.3)", truncate(s, 64))
		}
	}
	if cfg.PendingTTL < 0 || cfg.RefreshMargin < 0 || cfg.RefreshTimeout < 0 || cfg.RequestTimeout < 0 {
		return bad("PendingTTL, RefreshMargin, RefreshTimeout and RequestTimeout must not be negative")
	}
	if cfg.FailingAfter < 0 {
		return bad("FailingAfter must not be negative")
	}
	c := &Client{
		clientID:       cfg.ClientID,
		secret:         cfg.ClientSecret,
		secretFunc:     cfg.ClientSecretFunc,
		redirectURL:    cfg.RedirectURL,
		scopes:         append([]string(nil), cfg.Scopes...),
		log:            cfg.Logger,
		now:            cfg.Now,
		pendingTTL:     cfg.PendingTTL,
		refreshMargin:  cfg.RefreshMargin,
		refreshTimeout: cfg.RefreshTimeout,
		requestTimeout: cfg.RequestTimeout,
		tel:            cfg.Telemetry,
		onEvent:        cfg.OnEvent,
		failingAfter:   cmp.Or(cfg.FailingAfter, defaultFailingAfter),
	}
	for _, s := range cfg.Sites {
		if s.info == nil || s.org != "" {
			return bad("Sites entries must come from NewSite")
		}
		if _, err := ResolveSite(s.info.domain); err == nil || s.info.builtIn {
			return bad("site %s is built in; Config.Sites is for sites this package lacks", s.info.domain)
		}
		for _, prev := range c.extra {
			if prev.domain == s.info.domain {
				return bad("site %s is listed twice in Sites", s.info.domain)
			}
		}
		c.extra = append(c.extra, s.info)
	}
	for key, cc := range cfg.SiteClients {
		site, err := c.siteNamed(key)
		if err != nil {
			return bad("SiteClients key %q names no site: use a site name such as EU1 or a domain", truncate(key, 64))
		}
		switch {
		case badClientID(cc.ClientID):
			return bad("SiteClients[%q].ClientID is empty or contains spaces or control characters", key)
		case cfg.ClientSecretFunc == nil && cc.ClientSecret == "":
			return bad("SiteClients[%q].ClientSecret is required without ClientSecretFunc", key)
		case cfg.ClientSecretFunc != nil && cc.ClientSecret != "":
			return bad("SiteClients[%q]: set its ClientSecret or ClientSecretFunc, not both", key)
		}
		if c.siteClients == nil {
			c.siteClients = map[string]ClientCredentials{}
		}
		if _, dup := c.siteClients[site.Domain()]; dup {
			return bad("SiteClients names site %s twice", site.Name())
		}
		c.siteClients[site.Domain()] = cc
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.pendingTTL == 0 {
		c.pendingTTL = defaultPendingTTL
	}
	if c.refreshMargin == 0 {
		c.refreshMargin = time.Minute
	}
	if c.refreshTimeout == 0 {
		c.refreshTimeout = time.Minute
	}
	if c.requestTimeout == 0 {
		c.requestTimeout = defaultTimeout
	}
	hc := http.Client{Timeout: defaultTimeout}
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	hc.Transport = c.countTokenRequests(hc.Transport)
	c.hc = &hc
	return c, nil
}

func badClientID(id string) bool {
	return id == "" || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f })
}

// siteNamed resolves a SiteClients key: a site's name or any value
// ResolveSite takes, naming a region without organization subdomain.
func (c *Client) siteNamed(key string) (Site, error) {
	for _, table := range [2][]*siteInfo{builtInSites, c.extra} {
		for _, info := range table {
			if strings.EqualFold(info.name, key) {
				return Site{info: info}, nil
			}
		}
	}
	site, err := c.ResolveSite(key)
	if err == nil && site.Org() != "" {
		err = siteError("site clients", key, "names an organization, not a site")
	}
	return site, err
}

// client returns the OAuth client registered at site: its SiteClients
// entry, or the default one. ClientSecret is empty with ClientSecretFunc.
func (c *Client) client(site Site) ClientCredentials {
	if cc, ok := c.siteClients[site.Domain()]; ok {
		return cc
	}
	return ClientCredentials{ClientID: c.clientID, ClientSecret: c.secret}
}

// leaseTTL is how long a refresh or an API key creation holds its lease:
// longer than the work it guards may take.
func (c *Client) leaseTTL() time.Duration { return c.refreshTimeout + c.refreshTimeout/4 }

// Format prints cfg without its client secret, for every verb.
func (cfg Config) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "ddoauth.Config{ClientID:%q ClientSecret:%s ClientSecretFunc:%t SiteClients:%v RedirectURL:%q Scopes:%q Sites:%v}",
		cfg.ClientID, redacted(cfg.ClientSecret), cfg.ClientSecretFunc != nil, cfg.SiteClients, cfg.RedirectURL, cfg.Scopes, cfg.Sites)
}

// LogValue logs cfg without its client secret.
func (cfg Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", cfg.ClientID), slog.String("redirect_url", cfg.RedirectURL))
}

// Format prints c without its client secret, for every verb. Its value
// receiver covers a dereferenced Client too.
func (c Client) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "ddoauth.Client{ClientID:%q RedirectURL:%q}", c.clientID, c.redirectURL)
}

// checkRedirectURL returns why u cannot be a redirect URI, or "".
func checkRedirectURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "is required"
	case err != nil:
		return "does not parse"
	case u.User != nil:
		return "must not contain userinfo"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "must not contain a fragment (RFC 6749 §3.1.2)"
	case u.Host == "":
		return "must be absolute"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return ""
	}
	return "must be https (http only on a loopback address)"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ResolveSite is like the package's [ResolveSite] but also knows the
// sites added with Config.Sites.
func (c *Client) ResolveSite(raw string) (Site, error) { return resolveSite(raw, c.extra) }

// SiteFromQuery is like the package's [SiteFromQuery] but also knows the
// sites added with Config.Sites.
func (c *Client) SiteFromQuery(q url.Values) (Site, error) { return siteFromQuery(q, c.extra) }

// known re-resolves a Site that may have been decoded from storage, so
// that only table entries are ever used to build a request.
func (c *Client) known(s Site) (Site, error) {
	if s.IsZero() {
		return s, nil
	}
	return c.ResolveSite(s.String())
}

// connectionSite is known for a Site that must name a region: a
// Connection's. A zero Site there would leave no URL to send to.
func (c *Client) connectionSite(s Site) (Site, error) {
	if s.IsZero() {
		return Site{}, &Error{Op: "connection", Err: ErrUnknownSite, Description: "the connection has no site"}
	}
	return c.known(s)
}

// Pending is an authorization between Start and Complete. Keep it
// server-side or sealed (it holds the PKCE verifier, a secret) and bound to
// the user's browser session, encoded with [MarshalPending]: its JSON
// encoding leaves the state and verifier out. Each Pending may complete
// once: delete it before calling Complete.
type Pending struct {
	State       string    `json:"state"`
	Verifier    string    `json:"verifier"`
	Site        Site      `json:"site,omitzero"` // zero: the user picks a region on US1
	RedirectURL string    `json:"redirect_url"`
	Created     time.Time `json:"created"`
}

// Format prints p without its verifier, for every verb, so %v, %+v and %#v
// are safe in logs.
func (p Pending) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "ddoauth.Pending{State:%s Verifier:%s Site:%q RedirectURL:%q Created:%s}",
		redacted(p.State), redacted(p.Verifier), p.Site.String(), p.RedirectURL, p.Created.Format(time.RFC3339))
}

// LogValue logs p without its state and verifier.
func (p Pending) LogValue() slog.Value {
	return slog.GroupValue(slog.String("site", p.Site.String()), slog.String("redirect_url", p.RedirectURL),
		slog.Time("created", p.Created))
}

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "[redacted]"
}

// Start begins an authorization at site. It returns the authorize URL to
// send the browser to and the Pending to keep until the callback. The zero
// Site sends the user to US1's authorize page, where Datadog lets them pick
// their region; the callback then names it. A site with an organization
// subdomain keeps it in the authorize URL only.
//
// [WithOrgID] names the organization to authorize.
//
// Start returns an error wrapping [ErrUnknownSite] for a site that is not in
// the client's table, [ErrInvalidOrgID] for an organization ID that is not
// a UUID, or the error of the system's random source.
func (c *Client) Start(site Site, opts ...StartOption) (authURL string, p *Pending, err error) {
	site, err = c.known(site)
	if err != nil {
		return "", nil, err
	}
	params, err := authURLOptions(opts)
	if err != nil {
		return "", nil, err
	}
	state := make([]byte, 32)
	if _, err := rand.Read(state); err != nil {
		return "", nil, &Error{Op: "start", Err: err}
	}
	p = &Pending{
		State:       base64.RawURLEncoding.EncodeToString(state),
		Verifier:    NewVerifier(),
		Site:        site,
		RedirectURL: c.redirectURL,
		Created:     c.now(),
	}
	at := site
	if at.IsZero() {
		at = Site{info: builtInSites[0]}
	}
	params = append(params, oauth2.S256ChallengeOption(p.Verifier))
	return c.oauth2Config(at, p.RedirectURL, "").AuthCodeURL(p.State, params...), p, nil
}

func (c *Client) oauth2Config(s Site, redirectURL, secret string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.client(s).ClientID,
		ClientSecret: secret,
		RedirectURL:  redirectURL,
		Scopes:       c.scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:  s.AuthorizeURL(),
			TokenURL: s.TokenURL(),
			// Basic-then-body auto-detection could spend the single-use
			// code on the first try; Datadog wants credentials in the body.
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

// Complete finishes the authorization p with the query of Datadog's
// redirect to the callback. In order it checks: the state (constant
// time), p's age, an error= answer, the site (the callback's must be p's
// region unless p had none), the code, and the organization's ID if the
// callback names one (dd_oid: a UUID); then it makes exactly one
// form-encoded POST to that region's token URL. The Connection records
// the organization's ID and name (dd_org_name, cleaned for display;
// dropped when it is not UTF-8, is over 1 KiB or has nothing printable).
//
// Errors wrap, among others: [ErrStateMismatch], [ErrStateExpired],
// [ErrAccessDenied] or [ErrAuthorization] (with Error.Code) for error=
// callbacks, [ErrSiteMismatch], [ErrUnknownSite], [ErrInvalidCallback]
// (with [ErrInvalidOrgID] for a dd_oid that is not a UUID),
// [ErrInvalidGrant] for a malformed verifier, and the token endpoint's
// [ErrInvalidClient], [ErrInvalidGrant] and [ErrServer]. Network errors
// are wrapped as they are.
func (c *Client) Complete(ctx context.Context, p *Pending, q url.Values) (*Connection, error) {
	if p == nil {
		return nil, &Error{Op: "callback", Err: ErrStateMismatch, Description: "no pending authorization"}
	}
	fail := func(err error, desc string) (*Connection, error) {
		e := &Error{Op: "callback", Site: p.Site.String(), Err: err, Description: desc}
		e.Hint = hint(err, c.clientID, p.RedirectURL)
		return nil, e
	}
	states := q["state"]
	if len(states) != 1 || p.State == "" || subtle.ConstantTimeCompare([]byte(states[0]), []byte(p.State)) != 1 {
		return fail(ErrStateMismatch, "the state parameter is missing, repeated or not the pending one")
	}
	if age := c.now().Sub(p.Created); age > c.pendingTTL || age < -time.Minute {
		return fail(ErrStateExpired, fmt.Sprintf("started %s ago, limit %s", age.Round(time.Second), c.pendingTTL))
	}
	if _, ok := q["error"]; ok {
		code := clean(q.Get("error"), 64)
		desc := clean(q.Get("error_description"), 256)
		err := classify(0, code, desc)
		if err == ErrServer {
			err = ErrAuthorization
		}
		e := &Error{Op: "callback", Site: p.Site.String(), Code: code, Description: desc, Err: err}
		e.Hint = hint(e, c.client(p.Site).ClientID, p.RedirectURL)
		return nil, e
	}
	site, err := c.callbackSite(p, q)
	if err != nil {
		return nil, err
	}
	codes := q["code"]
	if len(codes) != 1 || codes[0] == "" || len(codes[0]) > 2048 || strings.ContainsFunc(codes[0], func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return fail(ErrInvalidCallback, "want exactly one code of printable ASCII")
	}
	orgID, orgName, err := callbackOrg(q, p.Site.String())
	if err != nil {
		return nil, err
	}
	if err := ValidateVerifier(p.Verifier); err != nil {
		return nil, err
	}
	conn, err := observe(ctx, c, OpExchange, site, func(ctx context.Context) (*Connection, error) { return c.exchange(ctx, site, codes[0], p) })
	if err != nil {
		return nil, err
	}
	conn.OrgID, conn.OrgName = orgID, orgName
	return conn, nil
}

// callbackSite decides which region redeems the code: the one the
// authorization started at, which the callback may only confirm (RFC 9700
// §4.4 mix-up defence), or, when it started without one, the callback's.
func (c *Client) callbackSite(p *Pending, q url.Values) (Site, error) {
	pending, err := c.known(p.Site)
	if err != nil {
		return Site{}, renamed(err, "callback")
	}
	got, err := c.SiteFromQuery(q)
	if err != nil {
		return Site{}, renamed(err, "callback")
	}
	mismatch := func(desc string) (Site, error) {
		return Site{}, &Error{Op: "callback", Site: pending.String(), Err: ErrSiteMismatch, Description: desc,
			Hint: hint(ErrSiteMismatch, "", "")}
	}
	site := pending
	switch {
	case pending.IsZero() && got.IsZero():
		site = Site{info: builtInSites[0]}
	case pending.IsZero():
		site = got.Region()
	case !got.IsZero() && !got.SameRegion(pending):
		return mismatch(fmt.Sprintf("authorization started at %s, callback names %s", pending.Name(), got.Name()))
	}
	// RFC 9207: if Datadog ever sends iss, it must name the same region.
	// Datadog publishes no issuer identifier to compare exactly, so the
	// value is resolved like a site and compared by region.
	if iss, ok := q["iss"]; ok {
		if len(iss) != 1 {
			return mismatch("the iss parameter is missing a value or repeated")
		}
		if is, err := c.ResolveSite(iss[0]); err != nil || !is.SameRegion(site) {
			return mismatch("the iss parameter does not name the site the code is redeemed at")
		}
	}
	return site.Region(), nil
}

// clientSecret returns the secret of site's OAuth client.
func (c *Client) clientSecret(ctx context.Context, site Site) (string, error) {
	site = site.Region()
	if c.secretFunc == nil {
		return c.client(site).ClientSecret, nil
	}
	s, err := c.secretFunc(ctx, site)
	if err == nil && s == "" {
		err = errors.New("empty secret")
	}
	if err != nil {
		return "", &Error{Op: "client secret", Site: site.String(), Err: err}
	}
	return s, nil
}

func (c *Client) exchange(ctx context.Context, site Site, code string, p *Pending) (*Connection, error) {
	secret, err := c.clientSecret(ctx, site)
	if err != nil {
		return nil, err
	}
	start := c.now()
	cfg := c.oauth2Config(site, p.RedirectURL, secret)
	rctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	tok, err := cfg.Exchange(context.WithValue(rctx, oauth2.HTTPClient, c.hc), code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		e := timedOut(rctx, c.tokenError("exchange", site, err, secret, code, p.Verifier))
		e.Hint = hint(e, cfg.ClientID, p.RedirectURL)
		c.log.LogAttrs(ctx, slog.LevelWarn, "ddoauth: token exchange failed", slog.String("site", site.Name()),
			slog.Int("status", e.StatusCode), slog.String("request_id", e.RequestID), slog.String("error", e.Error()))
		return nil, e
	}
	conn := newConnection(site, tok, start)
	scopes := redact.New(secret, code, p.Verifier, tok.AccessToken, tok.RefreshToken).Text(strings.Join(conn.Scopes, " "), 512)
	c.log.LogAttrs(ctx, slog.LevelInfo, "ddoauth: token exchange", slog.String("site", site.Name()), slog.String("scopes", scopes))
	return conn, nil
}

// tokenError turns an x/oauth2 error into an *Error without secrets.
func (c *Client) tokenError(op string, site Site, err error, secrets ...string) *Error {
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
		status, header := 0, http.Header(nil)
		if re.Response != nil {
			status, header = re.Response.StatusCode, re.Response.Header
		}
		e := responseError(op, site, status, header, re.Body, secrets...)
		if e.Code == "" {
			r := redact.New(secrets...)
			e.Code = r.Text(re.ErrorCode, 64)
			if e.Description == "" {
				e.Description = r.Text(re.ErrorDescription, 256)
			}
			e.Err = classify(status, e.Code, e.Description)
		}
		return e
	}
	// x/oauth2 has no error type for a 2xx body it cannot use; its
	// messages for that, unlike transport errors, start with "oauth2: ".
	if strings.HasPrefix(err.Error(), "oauth2: ") {
		return &Error{Op: op, Site: site.String(), Err: ErrServer, Description: redact.New(secrets...).Text(strings.TrimPrefix(err.Error(), "oauth2: "), 256)}
	}
	return transportError(op, site, redactErr(err, secrets...))
}

// timedOut returns the context's error for a token request that ended
// with it and got no status: x/oauth2 reports a body read cut short as
// mere text.
func timedOut(ctx context.Context, e *Error) *Error {
	if err := ctx.Err(); err != nil && e.StatusCode == 0 {
		return &Error{Op: e.Op, Site: e.Site, Err: err, also: []error{ErrNetwork}}
	}
	return e
}

// maxBody caps what ddoauth reads of any Datadog response, as x/oauth2
// does for token responses.
const maxBody = 1 << 20

// do sends one request that carries credentials (a form with the client
// secret, or a bearer token) without following redirects, and reads at
// most maxBody of the answer, all within RequestTimeout.
func (c *Client) do(ctx context.Context, method, rawURL string, form url.Values, bearer string) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return 0, nil, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, nil, nil, err
	}
	if len(b) > maxBody {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("%w: response body over %d bytes", ErrServer, maxBody)
	}
	return resp.StatusCode, resp.Header, b, nil
}
