package ddoauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ddoauth/ddoauth/internal/seal"
)

// Errors of the handlers. ErrReplayed, ErrBadCookie and ErrSessionMismatch
// also match [ErrStateMismatch]: the callback is not one this browser may
// complete.
var (
	// ErrReplayed: the callback of an authorization that already reached
	// the callback once came again, with a copy of its cookie.
	ErrReplayed = errors.New("callback already used")
	// ErrBadCookie: the pending-authorization cookie does not open: it was
	// altered, or sealed with a key that is not in HandlerConfig.CookieKeys.
	ErrBadCookie = errors.New("pending authorization cookie does not open")
	// ErrSessionMismatch: the callback came without the partner's session
	// that started the authorization (HandlerConfig.Session). Either
	// someone made this browser present an authorization they started
	// (login CSRF: their Datadog organization would be connected to this
	// user's account), or the user signed out or in as someone else
	// meanwhile. No code is redeemed.
	ErrSessionMismatch = errors.New("callback from another session than the one that started the authorization")
	// ErrNoSession: onboarding was opened without a signed-in session
	// (HandlerConfig.Session returned an error or an empty ID). Put
	// onboarding behind the partner's sign-in.
	ErrNoSession = errors.New("no signed-in session")
)

// maxCookieTTL caps the pending cookie's lifetime whatever PendingTTL says.
const maxCookieTTL = 10 * time.Minute

// maxPending is how many authorizations one browser may have pending at
// once: the pending cookies are this many slots, and a new authorization
// takes a free slot or the oldest one's. Whatever the number of onboarding
// hits (an attacker can make a browser open the onboarding link again and
// again), a request to the partner carries at most this many pending
// cookies, under 2 KiB in all.
const maxPending = 4

// HandlerConfig configures the handlers [Client.Handlers] makes.
// CookieKeys, OnConnect, and Session or InsecureNoSession are required.
//
// Each pending authorization costs the user's browser one cookie of about
// 340 bytes (430 at most, with the longest organization subdomain), for
// at most ten minutes, until the callback clears it. A browser holds at
// most four: a fifth authorization replaces the oldest. The cookies are
// sent on every request to the partner's host while they live (a
// `__Host-` cookie's path is /), which is also how onboarding sees and
// replaces the oldest.
type HandlerConfig struct {
	// CookieKeys are AES-256 keys, 32 random bytes each, that seal the
	// pending authorization (state, PKCE verifier, site) in a cookie
	// between onboarding and callback. The first key seals; every key
	// opens. To rotate, put a new key first and keep the old one listed
	// for ten minutes. Replicas behind one redirect URI share the keys.
	CookieKeys [][]byte

	// Session returns the ID of the partner's signed-in session that r
	// comes with: the session cookie's ID, or the signed-in user's ID;
	// anything that differs between two users and stays the same from
	// onboarding to callback. Onboarding seals a hash of it (never the ID)
	// into the authorization's cookie; the callback completes only if r's
	// session has the same hash, so that an authorization started by one
	// user is never completed in another user's session: without it, an
	// attacker who authorizes their own Datadog organization and gets a
	// victim's browser to open the callback connects that organization to
	// the victim's account (login CSRF), and the partner sends the
	// victim's data there. An error or an empty ID means no one is signed
	// in: onboarding answers with [ErrNoSession] (403), the callback with
	// [ErrSessionMismatch] (400). The session cookie must reach the
	// callback, which Datadog's redirect opens as a cross-site navigation:
	// SameSite=Lax (or None), not Strict.
	Session func(r *http.Request) (string, error)

	// InsecureNoSession, set instead of Session, runs the handlers
	// without binding authorizations to a session: whoever opens a
	// callback with its cookie completes it. It MUST NOT be used where
	// users sign in: only for a single-user tool that has no session, such
	// as a command on the user's own machine.
	InsecureNoSession bool

	// OnConnect receives each new connection with the callback request,
	// whose context values and cookies (the partner's own session) tell
	// whose connection it is; with Session set, that session is the one
	// that started the authorization. It should store the connection, and
	// create the API key, before it returns. The request's context is not
	// cancelled when the browser goes away (the user closes the tab), so
	// that a key Datadog has created is not lost to a cancelled save; it
	// ends at OnConnectTimeout.
	//
	// If it fails, the callback revokes the new grant, so that no grant is
	// left the partner does not know about, and renders a failure page:
	// the status and hint of an *Error, or 500. One error is the
	// exception: after EnsureAPIKey created a key, return its error as is;
	// the grant is kept. An error that is (errors.As) an
	// [*APIKeyNotSavedError] means the key exists at Datadog and is
	// carried in the error: revoking would strand it. The callback passes
	// that error to OnError, which should save its Key somewhere, and
	// renders a 500 page.
	OnConnect func(r *http.Request, conn *Connection) error

	// OnConnectTimeout bounds OnConnect: its request's context has this
	// deadline. Zero means twice Config.RefreshTimeout (two minutes by
	// default), room for EnsureAPIKey, which RefreshTimeout bounds, and
	// the partner's own saves. The revocation after a failed OnConnect,
	// and OnError, get contexts of their own.
	OnConnectTimeout time.Duration

	// SitePicker makes onboarding show a page listing Datadog's sites when
	// the link names none. Off, onboarding sends the user to US1's
	// authorize page, where Datadog lets them pick their region, as
	// Datadog advises.
	SitePicker bool

	// UsedStates records the authorizations that reached the callback, so
	// that a replay fails even with a copy of the cookie the first visit
	// cleared. Nil means a record in memory, which covers one process;
	// replicas must share one.
	UsedStates UsedStates

	// OnError, if set, is called with each error a handler answers with a
	// failure page, to log it. The error holds no secret, except the API
	// key an [*APIKeyNotSavedError] from OnConnect carries (its Error and
	// Format show the last four characters only): save e.Key() from here.
	// For OnConnect's errors, r is the request OnConnect received, with a
	// context that outlives the browser and has a deadline of its own, 30
	// seconds, even when OnConnect ran out of time.
	OnError func(r *http.Request, err error)

	// SuccessURL, if set, is where the callback sends the browser (303 See
	// Other) once OnConnect has succeeded, instead of its own page: a page
	// of the partner's app, which finds the new connection through the
	// user's session. It is a path ("/settings/datadog?connected=1") or an
	// absolute URL with RedirectURL's scheme and host, so that it can never
	// send the user to another site; Handlers checks it.
	SuccessURL string

	// FailureURL, if set, is where the handlers send the browser (303 See
	// Other) when onboarding or the callback fails, after OnError, instead
	// of their own page. It is checked as SuccessURL is. The URL says
	// nothing of the failure; use OnFailure for that.
	FailureURL string

	// OnSuccess, if set instead of SuccessURL, answers the callback once
	// OnConnect has succeeded: render the partner's page or redirect. The
	// response already carries Cache-Control: no-store and
	// Referrer-Policy: no-referrer, which keep the callback URL's code out
	// of caches and Referer headers: keep them. The handlers' own
	// Content-Security-Policy is not set: set the page's own. conn's
	// OrgName may hold markup: escape it (html/template does).
	OnSuccess func(w http.ResponseWriter, r *http.Request, conn *Connection)

	// OnFailure, if set instead of FailureURL, answers each request
	// onboarding or the callback fails, after OnError, with the same err:
	// an *Error wrapping the sentinels [Client.Callback] and
	// [Client.Onboarding] list (errors.Is, errors.As), or OnConnect's
	// error. Its Op is "onboarding" for failures of the onboarding link.
	// The response carries the headers OnSuccess's does. Show err's Hint,
	// never its Description (it may repeat what the request carried).
	OnFailure func(w http.ResponseWriter, r *http.Request, err error)
}

// Format prints cfg without its cookie keys, for every verb.
func (cfg HandlerConfig) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "ddoauth.HandlerConfig{CookieKeys:[%d redacted] Session:%t InsecureNoSession:%t OnConnect:%t "+
		"OnConnectTimeout:%s SitePicker:%t UsedStates:%t OnError:%t SuccessURL:%q FailureURL:%q OnSuccess:%t OnFailure:%t}",
		len(cfg.CookieKeys), cfg.Session != nil, cfg.InsecureNoSession, cfg.OnConnect != nil, cfg.OnConnectTimeout,
		cfg.SitePicker, cfg.UsedStates != nil, cfg.OnError != nil, cfg.SuccessURL, cfg.FailureURL,
		cfg.OnSuccess != nil, cfg.OnFailure != nil)
}

// LogValue logs cfg without its cookie keys.
func (cfg HandlerConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("cookie_keys", len(cfg.CookieKeys)), slog.Bool("session", cfg.Session != nil),
		slog.Bool("insecure_no_session", cfg.InsecureNoSession), slog.Bool("site_picker", cfg.SitePicker))
}

// UsedStates is a record of used authorizations shared by every handler
// that serves one redirect URI: an in-memory set for one process, or a
// key with expiry in a shared database (Redis SET NX PX, a unique row).
type UsedStates interface {
	// Use records key until expires and reports whether it was not
	// recorded yet. It must be atomic: of two concurrent calls with one
	// key, one reports true. Keys are hashes, never a secret.
	Use(ctx context.Context, key string, expires time.Time) (bool, error)
}

// Handlers serve the browser half of Datadog's flow: the onboarding URL,
// which starts an authorization, and the redirect URI, which completes it.
// Make them with [Client.Handlers]; they are safe for concurrent use.
//
// Each authorization gets its own cookie, one of four slots, sealed with
// AES-GCM: several tabs do not clobber each other, and the PKCE verifier
// never reaches the browser in clear. The cookie is named __Host-ddoauth-…
// (Secure, no Domain, Path=/: the browser refuses it from any other host,
// a sibling subdomain included), HttpOnly and SameSite=Lax, and it lives
// at most ten minutes (PendingTTL if shorter), which the callback also
// checks against the sealed creation time. It holds a hash of the
// partner's session (HandlerConfig.Session), which the callback compares.
// A callback is completed once: it clears its cookie and records its
// state in UsedStates before it redeems the code.
//
// With a loopback redirect URL on http (local development) the cookie is
// the same but for its name, ddoauth-…: browsers take Secure cookies from
// http://localhost and loopback addresses (Chromium since version 89,
// Firefox, curl), not all take prefixed ones.
type Handlers struct {
	c      *Client
	cfg    HandlerConfig
	box    *seal.Box
	prefix string        // the pending cookies' name, less the slot number
	ttl    time.Duration // the pending cookie's lifetime
	wait   time.Duration // OnConnect's deadline
	used   UsedStates
}

// Format prints h without its keys, for every verb.
func (h Handlers) Format(f fmt.State, verb rune) {
	redirect := ""
	if h.c != nil {
		redirect = h.c.redirectURL
	}
	fmt.Fprintf(f, "ddoauth.Handlers{RedirectURL:%q SitePicker:%t}", redirect, h.cfg.SitePicker)
}

// Handlers returns the onboarding and callback handlers for c. It returns
// an error wrapping [ErrInvalidConfig] when there is no cookie key, a key
// is not 32 bytes, is all zero bytes or is listed twice, OnConnect is nil,
// neither or both of Session and InsecureNoSession are set,
// OnConnectTimeout is negative, SuccessURL or FailureURL is set with
// OnSuccess or OnFailure, or either URL is neither a path nor at
// RedirectURL's origin.
func (c *Client) Handlers(cfg HandlerConfig) (*Handlers, error) {
	bad := func(desc string) (*Handlers, error) {
		return nil, &Error{Op: "handlers", Err: ErrInvalidConfig, Description: desc}
	}
	if cfg.OnConnect == nil {
		return bad("OnConnect is required")
	}
	if cfg.Session == nil && !cfg.InsecureNoSession {
		return bad("Session is required: it binds each authorization to the partner's signed-in user")
	}
	if cfg.Session != nil && cfg.InsecureNoSession {
		return bad("set Session or InsecureNoSession, not both")
	}
	if cfg.OnConnectTimeout < 0 {
		return bad("OnConnectTimeout must not be negative")
	}
	if cfg.SuccessURL != "" && cfg.OnSuccess != nil || cfg.FailureURL != "" && cfg.OnFailure != nil {
		return bad("set SuccessURL or OnSuccess, and FailureURL or OnFailure, not both")
	}
	for _, u := range [...]struct{ name, raw string }{{"SuccessURL", cfg.SuccessURL}, {"FailureURL", cfg.FailureURL}} {
		if why := checkReturnURL(u.raw, c.redirectURL); why != "" {
			return bad(fmt.Sprintf("%s %q: %s", u.name, truncate(u.raw, 120), why))
		}
	}
	box, err := seal.New(cfg.CookieKeys)
	if err != nil {
		return bad("CookieKeys: " + strings.TrimPrefix(err.Error(), "seal: "))
	}
	// Replicas of one integration share the names; two integrations on
	// one host do not.
	tag := sha256.Sum256([]byte("ddoauth cookie\x00" + c.clientID + "\x00" + c.redirectURL))
	prefix := "__Host-"
	if u, err := url.Parse(c.redirectURL); err != nil || u.Scheme == "http" {
		// Loopback development (New allows http nowhere else): Chromium
		// took Secure cookies from http://localhost long before it took
		// prefixed ones, and no sibling host can set cookies for a
		// loopback address.
		prefix = ""
	}
	h := &Handlers{c: c, cfg: cfg, box: box, used: cfg.UsedStates,
		prefix: prefix + "ddoauth-" + base64.RawURLEncoding.EncodeToString(tag[:6]) + "-",
		ttl:    min(c.pendingTTL, maxCookieTTL),
		wait:   cfg.OnConnectTimeout,
	}
	if h.wait == 0 {
		h.wait = 2 * c.refreshTimeout
	}
	if h.used == nil {
		h.used = &MemoryStore{Now: c.now}
	}
	return h, nil
}

// Onboarding returns the handler for the integration's onboarding URL, to
// which Datadog sends the customer with the site in the query (site=,
// domain=, or both, in any form [SiteFromQuery] accepts). It answers GET
// only. With a site it starts an authorization there, sets its cookie and
// redirects to the site's authorize page, keeping an organization
// subdomain. With none it shows the site picker or redirects to US1 (see
// HandlerConfig.SitePicker). An unknown or contradictory site gets a 400
// page and nothing is sent anywhere. A dd_oid on the link (the
// organization's UUID) goes on to the authorize URL, where it spares the
// user Datadog's organization switcher; one that is not a UUID gets a 400
// page ([ErrInvalidOrgID]). Failures are *Error values with Op
// "onboarding"; HandlerConfig.FailureURL or OnFailure may answer them.
//
// Put it behind the partner's sign-in: with HandlerConfig.Session set, a
// request without a session gets a 403 page ([ErrNoSession]) and starts
// nothing. A browser has at most four authorizations pending: the fifth
// replaces the oldest.
func (h *Handlers) Onboarding() http.Handler { return http.HandlerFunc(h.onboarding) }

// Callback returns the handler for the redirect URI. It answers GET only.
// It finds the authorization's cookie by the callback's state, opens it,
// clears it, checks its age against the cookie's lifetime and its session
// against the request's (HandlerConfig.Session), records the state as
// used, completes the authorization ([Client.Complete]: state, age, site,
// code, organization) and hands the connection to HandlerConfig.OnConnect,
// then renders a page that says the tab may be closed, or redirects to
// HandlerConfig.SuccessURL, or leaves the answer to OnSuccess.
//
// Failures render a short page with a hint and a 4xx status for what the
// request did wrong: 400 for [ErrStateMismatch] (no cookie for this state
// in this browser, [ErrBadCookie], [ErrSessionMismatch], [ErrReplayed]),
// [ErrStateExpired], [ErrSiteMismatch], [ErrUnknownSite],
// [ErrInvalidCallback], a code Datadog refused ([ErrInvalidGrant]) and
// other authorize errors; 403 for [ErrAccessDenied]; 409 for
// [ErrAPIKeyExists] from OnConnect. Failures of the partner's side
// ([ErrInvalidClient], [ErrForbidden],
// OnConnect, an [*APIKeyNotSavedError] from OnConnect, whose grant is
// kept) are 500; of Datadog's or the network, 502. HandlerConfig.FailureURL
// or OnFailure, when set, answer failures instead.
func (h *Handlers) Callback() http.Handler { return h.traced(h.callback) }

func (h *Handlers) onboarding(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w)
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writePage(w, http.StatusMethodNotAllowed, "Method not allowed", "Open this link in a browser.")
		return
	}
	session, err := h.session(r)
	if err != nil {
		h.fail(w, r, &Error{Op: "onboarding", Err: ErrNoSession, also: []error{err},
			Hint: "sign in first, then start again from the integration tile in Datadog"})
		return
	}
	q := r.URL.Query()
	site, err := h.c.SiteFromQuery(q)
	if err != nil {
		h.fail(w, r, onboardingError(err))
		return
	}
	orgID, bad := orgIDFromQuery(q)
	if bad != "" {
		h.fail(w, r, &Error{Op: "onboarding", Err: ErrInvalidOrgID, Description: bad,
			Hint: "start again from the integration tile in Datadog"})
		return
	}
	if site.IsZero() && h.cfg.SitePicker {
		h.picker(w, orgID)
		return
	}
	authURL, p, err := h.c.Start(site, WithOrgID(orgID))
	if err != nil {
		h.fail(w, r, onboardingError(err))
		return
	}
	ck, err := h.pendingCookie(h.slot(r), p, session)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.SetCookie(w, ck)
	// No body: http.Redirect would repeat the URL, and its state, in one.
	w.Header().Set("Location", authURL)
	w.WriteHeader(http.StatusFound)
}

func (h *Handlers) callback(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w)
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writePage(w, http.StatusMethodNotAllowed, "Method not allowed", "Open this link in a browser.")
		return
	}
	q := r.URL.Query()
	fail := func(err error, desc string) {
		h.fail(w, r, &Error{Op: "callback", Err: err, Description: desc, Hint: "start again from the onboarding link, in this browser"})
	}
	states := q["state"]
	if len(states) != 1 || states[0] == "" || len(states[0]) > 512 {
		fail(ErrStateMismatch, "the state parameter is missing, empty, repeated or too long")
		return
	}
	state := states[0]
	name, p, bad := h.find(r, state)
	for _, n := range bad {
		// Altered, or sealed under a retired key: no use to anyone.
		http.SetCookie(w, h.cookie(n, "", -1))
	}
	if p == nil && len(bad) > 0 {
		fail(fmt.Errorf("%w: %w", ErrStateMismatch, ErrBadCookie), "altered, or sealed with a key no longer configured")
		return
	}
	if p == nil {
		fail(ErrStateMismatch, "this browser holds no pending authorization for this state: "+
			"completed already, expired, replaced by newer ones, or started in another browser")
		return
	}
	// Spent whatever happens next.
	http.SetCookie(w, h.cookie(name, "", -1))
	// A copy of the cookie must not outlive the cookie, whatever
	// PendingTTL allows Complete.
	if age := h.c.now().Sub(p.created()); age > h.ttl || age < -time.Minute {
		fail(ErrStateExpired, fmt.Sprintf("started %s ago, limit %s", age.Round(time.Second), h.ttl))
		return
	}
	if h.cfg.Session != nil {
		session, err := h.session(r)
		if err != nil || p.Session == "" || subtle.ConstantTimeCompare([]byte(session), []byte(p.Session)) != 1 {
			h.fail(w, r, &Error{Op: "callback", Err: ErrStateMismatch, also: []error{ErrSessionMismatch},
				Description: "the authorization was started in another session, or the user is not signed in",
				Hint:        "sign in to your own account, then start again from the integration tile in Datadog"})
			return
		}
	}
	first, err := h.used.Use(r.Context(), usedKey(state), p.created().Add(h.ttl+time.Minute))
	if err != nil {
		h.fail(w, r, &Error{Op: "record used state", Err: err})
		return
	}
	if !first {
		fail(fmt.Errorf("%w: %w", ErrStateMismatch, ErrReplayed), "this authorization reached the callback before")
		return
	}
	conn, err := h.c.Complete(r.Context(), p.pending(h.c.redirectURL), q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	noteCallback(w, conn.Site, nil)
	// The partner's work must not stop with the browser: once Datadog has
	// created the API key, a cancelled save would lose it. It has a
	// deadline of its own instead.
	base := context.WithoutCancel(r.Context())
	ctx, cancel := context.WithTimeout(base, h.wait)
	defer cancel()
	err = h.cfg.OnConnect(r.WithContext(ctx), conn)
	cancel()
	if err == nil {
		h.succeed(w, r, conn)
		return
	}
	// OnError may have to save an API key: OnConnect's deadline may have
	// passed, so it gets time of its own, as does the revocation.
	ectx, ecancel := context.WithTimeout(base, defaultTimeout)
	defer ecancel()
	er := r.WithContext(ectx)
	h.fail(w, er, err)
	if _, ok := errors.AsType[*APIKeyNotSavedError](err); ok {
		// The key exists and only the error holds it; a revoked grant
		// would leave the partner a key for a connection it lost.
		return
	}
	rctx, rcancel := context.WithTimeout(base, defaultTimeout)
	defer rcancel()
	if rerr := h.c.Revoke(rctx, conn); rerr != nil && h.cfg.OnError != nil {
		h.cfg.OnError(er, rerr)
	}
}

// sealedPending is what a pending cookie seals: a Pending without its
// redirect URL, which is the callback's own, and with a hash of the
// partner's session. Short keys keep four cookies under 2 KiB; the
// handlers' own encoding, not Pending's, so that the cookie does not
// change with it.
type sealedPending struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	Site     Site   `json:"t,omitzero"`
	Created  int64  `json:"c"`           // Unix nanoseconds
	Session  string `json:"u,omitempty"` // sessionHash; empty with InsecureNoSession
}

func (sp *sealedPending) created() time.Time { return time.Unix(0, sp.Created) }

func (sp *sealedPending) pending(redirectURL string) *Pending {
	return &Pending{State: sp.State, Verifier: sp.Verifier, Site: sp.Site, RedirectURL: redirectURL, Created: sp.created()}
}

// pendingAAD binds a sealed cookie to this client and redirect URL, so
// that another integration that shares the keys cannot open it. The slot
// is not bound: the state inside is what the callback compares.
func (h *Handlers) pendingAAD() []byte {
	return []byte("ddoauth pending v2\x00" + h.c.clientID + "\x00" + h.c.redirectURL)
}

func (h *Handlers) pendingCookie(name string, p *Pending, session string) (*http.Cookie, error) {
	b, err := json.Marshal(sealedPending{State: p.State, Verifier: p.Verifier, Site: p.Site,
		Created: p.Created.UnixNano(), Session: session})
	if err != nil {
		return nil, &Error{Op: "onboarding", Err: err}
	}
	return h.cookie(name, base64.RawURLEncoding.EncodeToString(h.box.Seal(b, h.pendingAAD())), int(h.ttl/time.Second)), nil
}

// cookie is host-only with Path=/, as the __Host- prefix requires, so
// that onboarding sees the cookies of earlier authorizations.
func (h *Handlers) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// slotName is the name of the pending cookie in slot i.
func (h *Handlers) slotName(i int) string { return h.prefix + strconv.Itoa(i) }

// slot picks the cookie for a new authorization: the first free slot, or
// one whose cookie does not open, or the one holding the oldest
// authorization. Two authorizations started at the same instant may pick
// one slot; the cap holds whatever the requests.
func (h *Handlers) slot(r *http.Request) string {
	oldest, at := "", time.Time{}
	for i := range maxPending {
		name := h.slotName(i)
		cks := r.CookiesNamed(name)
		if len(cks) == 0 {
			return name
		}
		sp, ok := h.open(cks)
		if !ok {
			return name
		}
		if created := sp.created(); oldest == "" || created.Before(at) {
			oldest, at = name, created
		}
	}
	return oldest
}

// find returns the slot and contents of the pending cookie for state, and
// the slots whose cookies do not open.
func (h *Handlers) find(r *http.Request, state string) (string, *sealedPending, []string) {
	var bad []string
	for i := range maxPending {
		name := h.slotName(i)
		cks := r.CookiesNamed(name)
		if len(cks) == 0 {
			continue
		}
		sp, ok := h.open(cks)
		if !ok {
			bad = append(bad, name)
			continue
		}
		if subtle.ConstantTimeCompare([]byte(sp.State), []byte(state)) == 1 {
			return name, sp, bad
		}
	}
	return "", nil, bad
}

// session returns the hash of r's session to seal or compare, or "" with
// InsecureNoSession. It fails when HandlerConfig.Session finds none. The
// hash keeps the session's ID, a secret, out of the cookie.
func (h *Handlers) session(r *http.Request) (string, error) {
	if h.cfg.Session == nil {
		return "", nil
	}
	id, err := h.cfg.Session(r)
	if err == nil && id == "" {
		err = errors.New("empty session ID")
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte("ddoauth session\x00" + id))
	return base64.RawURLEncoding.EncodeToString(sum[:16]), nil
}

// maxCookieValue bounds what open decodes; a sealed pending authorization
// is ~300 bytes.
const maxCookieValue = 1024

func (h *Handlers) open(cookies []*http.Cookie) (*sealedPending, bool) {
	for _, ck := range cookies {
		if len(ck.Value) > maxCookieValue {
			continue
		}
		raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
		if err != nil {
			continue
		}
		b, err := h.box.Open(raw, h.pendingAAD())
		if err != nil {
			continue
		}
		var sp sealedPending
		if json.Unmarshal(b, &sp) == nil && sp.State != "" {
			return &sp, true
		}
	}
	return nil, false
}

func usedKey(state string) string {
	sum := sha256.Sum256([]byte("ddoauth used\x00" + state))
	return "ddoauth:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// succeed answers a callback whose connection OnConnect took.
func (h *Handlers) succeed(w http.ResponseWriter, r *http.Request, conn *Connection) {
	switch {
	case h.cfg.OnSuccess != nil:
		w.Header().Del("Content-Security-Policy")
		h.cfg.OnSuccess(w, r, conn)
	case h.cfg.SuccessURL != "":
		seeOther(w, h.cfg.SuccessURL)
	default:
		org := ""
		if conn.OrgName != "" {
			org = conn.OrgName + " "
		}
		writePage(w, http.StatusOK, "Connected to Datadog",
			"Your Datadog organization "+org+"("+conn.Site.Name()+") is connected. You may now close this tab.")
	}
}

// seeOther redirects to a URL Handlers checked, without a body.
func seeOther(w http.ResponseWriter, u string) {
	w.Header().Set("Location", u)
	w.WriteHeader(http.StatusSeeOther)
}

// fail reports err and answers with its page, the partner's page or a
// redirect to it. Only fixed text and hints reach the handlers' page:
// descriptions may repeat what the request carried.
func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	noteCallback(w, Site{}, err)
	if h.cfg.OnError != nil {
		h.cfg.OnError(r, err)
	}
	switch {
	case h.cfg.OnFailure != nil:
		w.Header().Del("Content-Security-Policy")
		h.cfg.OnFailure(w, r, err)
		return
	case h.cfg.FailureURL != "":
		seeOther(w, h.cfg.FailureURL)
		return
	}
	status, reason := failure(err)
	help := ""
	if e, ok := errors.AsType[*Error](err); ok {
		help = e.Hint
	}
	if help == "" {
		help = hint(err, h.c.clientID, h.c.redirectURL)
	}
	msg := reason
	if help != "" {
		msg += " " + upperFirst(help) + "."
	}
	writePage(w, status, "Could not connect Datadog", msg)
}

// failure maps an error to the page's status and first sentence.
func failure(err error) (int, string) {
	code, onboarding := "", false
	if e, ok := errors.AsType[*Error](err); ok {
		code, onboarding = e.Code, e.Op == "onboarding"
	}
	if _, ok := errors.AsType[*APIKeyNotSavedError](err); ok {
		// Whatever the store said: a new try would meet ErrAPIKeyExists
		// unless the partner kept the key.
		return http.StatusInternalServerError, "Datadog is connected, but the integration could not save its API key. " +
			"Contact the integration's support before you connect again."
	}
	switch {
	case errors.Is(err, ErrAccessDenied):
		return http.StatusForbidden, "Access was declined in Datadog; nothing was connected."
	case errors.Is(err, ErrReplayed):
		return http.StatusBadRequest, "This authorization was already completed."
	case errors.Is(err, ErrBadCookie):
		return http.StatusBadRequest, "This browser's record of the authorization is not valid."
	case errors.Is(err, ErrSessionMismatch):
		return http.StatusBadRequest, "This authorization was not started by the account signed in here."
	case errors.Is(err, ErrNoSession):
		return http.StatusForbidden, "You are not signed in."
	case errors.Is(err, ErrStateMismatch):
		return http.StatusBadRequest, "This link does not belong to an authorization started in this browser."
	case errors.Is(err, ErrStateExpired):
		return http.StatusBadRequest, "The authorization expired."
	case errors.Is(err, ErrSiteMismatch) && onboarding:
		return http.StatusBadRequest, "The link's site values name different Datadog sites."
	case errors.Is(err, ErrSiteMismatch):
		return http.StatusBadRequest, "Datadog's answer names another Datadog site than the one the authorization started at."
	case errors.Is(err, ErrUnknownSite) && onboarding:
		return http.StatusBadRequest, "The link does not name a Datadog site. Start again from the integration tile in Datadog."
	case errors.Is(err, ErrUnknownSite):
		return http.StatusBadRequest, "Datadog's answer does not name a Datadog site. Start again."
	case errors.Is(err, ErrInvalidOrgID) && onboarding:
		return http.StatusBadRequest, "The link's organization ID is not valid."
	case errors.Is(err, ErrInvalidOrgID):
		return http.StatusBadRequest, "Datadog's answer names an organization ID that is not valid. Start again."
	case errors.Is(err, ErrInvalidCallback):
		return http.StatusBadRequest, "Datadog's answer has no authorization code. Start again."
	case errors.Is(err, ErrInvalidGrant):
		return http.StatusBadRequest, "Datadog did not accept the authorization code."
	case errors.Is(err, ErrAPIKeyExists):
		return http.StatusConflict, "The integration already has an API key in this organization."
	case errors.Is(err, ErrAuthorization) && (code == "server_error" || code == "temporarily_unavailable"):
		return http.StatusBadGateway, "Datadog could not authorize just now. Try again later."
	case errors.Is(err, ErrAuthorization):
		return http.StatusBadRequest, "Datadog refused the authorization."
	case errors.Is(err, ErrInvalidClient), errors.Is(err, ErrForbidden),
		errors.Is(err, ErrInvalidConfig):
		return http.StatusInternalServerError, "The integration is misconfigured."
	case errors.Is(err, ErrServer):
		return http.StatusBadGateway, "Datadog could not complete the authorization. Try again later."
	case errors.Is(err, ErrNetwork):
		return http.StatusBadGateway, "Datadog could not be reached. Try again later."
	}
	return http.StatusInternalServerError, "The connection could not be completed. Try again later."
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// picker lists the sites as links back to onboarding, which keep the
// link's organization ID (orgID, checked).
func (h *Handlers) picker(w http.ResponseWriter, orgID string) {
	var b strings.Builder
	b.WriteString("<ul>")
	for _, s := range h.sites() {
		q := url.Values{"domain": {s.Domain()}}
		if orgID != "" {
			q.Set(orgIDParam, orgID)
		}
		fmt.Fprintf(&b, `<li><a href="?%s">%s</a> (%s)</li>`,
			html.EscapeString(q.Encode()), html.EscapeString(s.Name()), html.EscapeString(s.Domain()))
	}
	b.WriteString("</ul>")
	writePageHTML(w, http.StatusOK, "Choose your Datadog site",
		"<p>Which Datadog site is your organization on? It is the address you sign in at.</p>"+b.String())
}

func (h *Handlers) sites() []Site {
	out := Sites()
	for _, si := range h.c.extra {
		out = append(out, Site{info: si})
	}
	return out
}

// pageHeaders go on every answer: the callback URL holds a code and the
// pages may hold hints, so nothing is cached, nothing is referred, and
// nothing is loaded from elsewhere.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
}

func writePage(w http.ResponseWriter, status int, title, msg string) {
	writePageHTML(w, status, title, "<p>"+html.EscapeString(msg)+"</p>")
}

func writePageHTML(w http.ResponseWriter, status int, title, body string) {
	page := `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
		"<title>" + html.EscapeString(title) + "</title></head><body><h1>" + html.EscapeString(title) + "</h1>" + body + "</body></html>\n"
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(status)
	w.Write([]byte(page)) //nolint:errcheck // the client went away
}

// renamed returns a copy of err with its Op set to op when err is an
// *Error: the operation the user knows (the onboarding link, the
// callback) rather than the function that read the value.
func renamed(err error, op string) error {
	e, ok := err.(*Error)
	if !ok || e.Op == op {
		return err
	}
	c := *e
	c.Op = op
	return &c
}

// onboardingError names onboarding in err, an error of the link's values,
// and gives it a hint about the link.
func onboardingError(err error) error {
	err = renamed(err, "onboarding")
	if e, ok := err.(*Error); ok && e.Hint == "" {
		e.Hint = "start again from the integration tile in Datadog"
		if errors.Is(e, ErrSiteMismatch) {
			e.Hint = "the link's site and domain values must name one region: " + e.Hint
		}
	}
	return err
}

// checkReturnURL returns why raw cannot be a SuccessURL or FailureURL, or
// "". Only a path, or a URL at the redirect URL's own scheme and host,
// may be: the handlers must not be made to send users to another site.
func checkReturnURL(raw, redirectURL string) string {
	if raw == "" {
		return ""
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }) {
		return "must not contain spaces, control characters or backslashes"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "does not parse"
	}
	if u.Scheme == "" && u.Host == "" && u.User == nil {
		if !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") {
			return "must be a path starting with a single slash, or an absolute URL at RedirectURL's origin"
		}
		return ""
	}
	ru, err := url.Parse(redirectURL)
	if err != nil || u.User != nil || u.Opaque != "" || !strings.EqualFold(u.Scheme, ru.Scheme) || !strings.EqualFold(u.Host, ru.Host) {
		return "must be a path, or an absolute URL with RedirectURL's scheme and host"
	}
	return ""
}
