package ddoauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
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

// Errors of the handlers. Both also match [ErrStateMismatch]: the callback
// is not one this browser may complete.
var (
	// ErrReplayed: the callback of an authorization that already reached
	// the callback once came again, with a copy of its cookie.
	ErrReplayed = errors.New("callback already used")
	// ErrBadCookie: the pending-authorization cookie does not open: it was
	// altered, or sealed with a key that is not in HandlerConfig.CookieKeys.
	ErrBadCookie = errors.New("pending authorization cookie does not open")
)

// maxCookieTTL caps the pending cookie's lifetime whatever PendingTTL says.
const maxCookieTTL = 10 * time.Minute

// HandlerConfig configures the handlers [Client.Handlers] makes.
// CookieKeys and OnConnect are required.
//
// Each pending authorization costs the user's browser one cookie of about
// 560 bytes at most (less with a short redirect URL), for at most ten
// minutes. The cookie is scoped to the callback path, so onboarding
// neither sees nor evicts the cookies of earlier authorizations: a user
// who starts many within ten minutes holds one each, until the callback
// clears it or it expires.
type HandlerConfig struct {
	// CookieKeys are AES-256 keys, 32 random bytes each, that seal the
	// pending authorization (state, PKCE verifier, site) in a cookie
	// between onboarding and callback. The first key seals; every key
	// opens. To rotate, put a new key first and keep the old one listed
	// for ten minutes. Replicas behind one redirect URI share the keys.
	CookieKeys [][]byte

	// OnConnect receives each new connection with the callback request,
	// whose context values and cookies (the partner's own session) tell
	// whose connection it is. It should store the connection, and create
	// the API key, before it returns. The request's context is not
	// cancelled when the browser goes away (the user closes the tab), so
	// that a key Datadog has created is not lost to a cancelled save; it
	// has no deadline either, so bound slow calls of your own.
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
	// For OnConnect's errors, r is the request OnConnect received, whose
	// context outlives the browser.
	OnError func(r *http.Request, err error)
}

// Format prints cfg without its cookie keys, for every verb.
func (cfg HandlerConfig) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "ddoauth.HandlerConfig{CookieKeys:[%d redacted] OnConnect:%t SitePicker:%t UsedStates:%t OnError:%t}",
		len(cfg.CookieKeys), cfg.OnConnect != nil, cfg.SitePicker, cfg.UsedStates != nil, cfg.OnError != nil)
}

// LogValue logs cfg without its cookie keys.
func (cfg HandlerConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("cookie_keys", len(cfg.CookieKeys)), slog.Bool("site_picker", cfg.SitePicker))
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
// Each authorization gets its own cookie, named after a hash of its state
// and sealed with AES-GCM: several tabs do not clobber each other, and the
// PKCE verifier never reaches the browser in clear. The cookie is Secure,
// HttpOnly, SameSite=Lax, scoped to the callback path and lives at most
// ten minutes. A callback is completed once: it clears its cookie and
// records its state in UsedStates before it redeems the code.
type Handlers struct {
	c    *Client
	cfg  HandlerConfig
	box  *seal.Box
	path string // the callback path, for the cookie
	used UsedStates
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
// an error wrapping [ErrInvalidConfig] when a cookie key is not 32 bytes,
// there is none, OnConnect is nil, or the redirect URL's path cannot scope
// a cookie.
func (c *Client) Handlers(cfg HandlerConfig) (*Handlers, error) {
	bad := func(desc string) (*Handlers, error) {
		return nil, &Error{Op: "handlers", Err: ErrInvalidConfig, Description: desc}
	}
	if cfg.OnConnect == nil {
		return bad("OnConnect is required")
	}
	box, err := seal.New(cfg.CookieKeys)
	if err != nil {
		return bad("CookieKeys: " + strings.TrimPrefix(err.Error(), "seal: "))
	}
	u, err := url.Parse(c.redirectURL)
	if err != nil {
		return bad("RedirectURL does not parse")
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if strings.ContainsFunc(path, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == ';' }) {
		return bad("the RedirectURL path cannot be a cookie path")
	}
	h := &Handlers{c: c, cfg: cfg, box: box, path: path, used: cfg.UsedStates}
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
// page and nothing is sent anywhere.
//
// Put it behind the partner's sign-in: the user should be signed in
// before the authorization starts.
func (h *Handlers) Onboarding() http.Handler { return http.HandlerFunc(h.onboarding) }

// Callback returns the handler for the redirect URI. It answers GET only.
// It finds the authorization's cookie by the callback's state, opens it,
// clears it, records the state as used, completes the authorization
// ([Client.Complete]: state, age, site, code) and hands the connection to
// HandlerConfig.OnConnect, then renders a page that says the tab may be
// closed.
//
// Failures render a short page with a hint and a 4xx status for what the
// request did wrong: 400 for [ErrStateMismatch] (no cookie for this state
// in this browser, [ErrBadCookie], [ErrReplayed]), [ErrStateExpired],
// [ErrSiteMismatch], [ErrUnknownSite], [ErrInvalidCallback], a code
// Datadog refused ([ErrInvalidGrant]) and other authorize errors; 403 for
// [ErrAccessDenied]; 409 for [ErrAPIKeyExists] from OnConnect. Failures
// of the partner's side ([ErrInvalidClient], [ErrRedirectURIMismatch],
// [ErrForbidden], OnConnect, an [*APIKeyNotSavedError] from OnConnect,
// whose grant is kept) are 500; of Datadog's or the network, 502.
func (h *Handlers) Callback() http.Handler { return http.HandlerFunc(h.callback) }

func (h *Handlers) onboarding(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w)
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writePage(w, http.StatusMethodNotAllowed, "Method not allowed", "Open this link in a browser.")
		return
	}
	site, err := h.c.SiteFromQuery(r.URL.Query())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if site.IsZero() && h.cfg.SitePicker {
		h.picker(w)
		return
	}
	authURL, p, err := h.c.Start(site)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ck, err := h.pendingCookie(p)
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
	name := cookieName(state)
	cookies := r.CookiesNamed(name)
	if len(cookies) == 0 {
		fail(ErrStateMismatch, "this browser holds no pending authorization for this state: "+
			"completed already, expired, or started in another browser")
		return
	}
	// Spent whatever happens next.
	http.SetCookie(w, h.cookie(name, "", -1))
	p, ok := h.open(name, cookies)
	if !ok {
		fail(fmt.Errorf("%w: %w", ErrStateMismatch, ErrBadCookie), "altered, or sealed with a key no longer configured")
		return
	}
	if subtle.ConstantTimeCompare([]byte(p.State), []byte(state)) != 1 {
		fail(ErrStateMismatch, "the cookie holds another state")
		return
	}
	first, err := h.used.Use(r.Context(), usedKey(state), p.Created.Add(h.c.pendingTTL+time.Minute))
	if err != nil {
		h.fail(w, r, &Error{Op: "record used state", Err: err})
		return
	}
	if !first {
		fail(fmt.Errorf("%w: %w", ErrStateMismatch, ErrReplayed), "this authorization reached the callback before")
		return
	}
	conn, err := h.c.Complete(r.Context(), p, q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The partner's work must not stop with the browser: once Datadog has
	// created the API key, a cancelled save would lose it.
	cr := r.WithContext(context.WithoutCancel(r.Context()))
	if err := h.cfg.OnConnect(cr, conn); err != nil {
		h.fail(w, cr, err)
		if _, ok := errors.AsType[*APIKeyNotSavedError](err); ok {
			// The key exists and only the error holds it; a revoked grant
			// would leave the partner a key for a connection it lost.
			return
		}
		ctx, cancel := context.WithTimeout(cr.Context(), defaultTimeout)
		defer cancel()
		if rerr := h.c.Revoke(ctx, conn); rerr != nil && h.cfg.OnError != nil {
			h.cfg.OnError(cr, rerr)
		}
		return
	}
	writePage(w, http.StatusOK, "Connected to Datadog",
		"Your Datadog organization ("+conn.Site.Name()+") is connected. You may now close this tab.")
}

// pendingAAD binds a sealed cookie to its name and to this client, so a
// cookie can neither be renamed to serve another state nor be opened by
// another integration that shares the keys.
func (h *Handlers) pendingAAD(name string) []byte {
	return []byte("ddoauth pending v1\x00" + h.c.clientID + "\x00" + name)
}

func (h *Handlers) pendingCookie(p *Pending) (*http.Cookie, error) {
	b, err := MarshalPending(p)
	if err != nil {
		return nil, &Error{Op: "onboarding", Err: err}
	}
	name := cookieName(p.State)
	ttl := min(h.c.pendingTTL, maxCookieTTL)
	return h.cookie(name, base64.RawURLEncoding.EncodeToString(h.box.Seal(b, h.pendingAAD(name))), int(ttl/time.Second)), nil
}

func (h *Handlers) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: h.path, MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// maxCookieValue bounds what open decodes; a sealed Pending is ~400 bytes.
const maxCookieValue = 2048

func (h *Handlers) open(name string, cookies []*http.Cookie) (*Pending, bool) {
	for _, ck := range cookies {
		if len(ck.Value) > maxCookieValue {
			continue
		}
		raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
		if err != nil {
			continue
		}
		b, err := h.box.Open(raw, h.pendingAAD(name))
		if err != nil {
			continue
		}
		if p, err := UnmarshalPending(b); err == nil {
			return p, true
		}
	}
	return nil, false
}

// cookieName is per state, so tabs keep separate cookies, and a hash, so
// the name does not repeat the state.
func cookieName(state string) string {
	sum := sha256.Sum256([]byte("ddoauth cookie\x00" + state))
	return "ddoauth_" + base64.RawURLEncoding.EncodeToString(sum[:12])
}

func usedKey(state string) string {
	sum := sha256.Sum256([]byte("ddoauth used\x00" + state))
	return "ddoauth:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// fail reports err and renders its page. Only fixed text and hints reach
// the page: descriptions may repeat what the request carried.
func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	if h.cfg.OnError != nil {
		h.cfg.OnError(r, err)
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
	code := ""
	if e, ok := errors.AsType[*Error](err); ok {
		code = e.Code
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
	case errors.Is(err, ErrStateMismatch):
		return http.StatusBadRequest, "This link does not belong to an authorization started in this browser."
	case errors.Is(err, ErrStateExpired):
		return http.StatusBadRequest, "The authorization expired."
	case errors.Is(err, ErrSiteMismatch):
		return http.StatusBadRequest, "The link names another Datadog site than the one the authorization started at."
	case errors.Is(err, ErrUnknownSite):
		return http.StatusBadRequest, "The link does not name a Datadog site. Start again from the integration tile in Datadog."
	case errors.Is(err, ErrInvalidCallback):
		return http.StatusBadRequest, "Datadog's answer has no authorization code. Start again."
	case errors.Is(err, ErrInvalidCodeVerifier), errors.Is(err, ErrInvalidGrant):
		return http.StatusBadRequest, "Datadog did not accept the authorization code."
	case errors.Is(err, ErrAPIKeyExists):
		return http.StatusConflict, "The integration already has an API key in this organization."
	case errors.Is(err, ErrAuthorization) && (code == "server_error" || code == "temporarily_unavailable"):
		return http.StatusBadGateway, "Datadog could not authorize just now. Try again later."
	case errors.Is(err, ErrAuthorization):
		return http.StatusBadRequest, "Datadog refused the authorization."
	case errors.Is(err, ErrInvalidClient), errors.Is(err, ErrRedirectURIMismatch), errors.Is(err, ErrForbidden),
		errors.Is(err, ErrInvalidConfig):
		return http.StatusInternalServerError, "The integration is misconfigured."
	case errors.Is(err, ErrServer), errors.Is(err, ErrRedirectRefused):
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

func (h *Handlers) picker(w http.ResponseWriter) {
	var b strings.Builder
	b.WriteString("<ul>")
	for _, s := range h.sites() {
		fmt.Fprintf(&b, `<li><a href="?domain=%s">%s</a> (%s)</li>`,
			html.EscapeString(url.QueryEscape(s.Domain())), html.EscapeString(s.Name()), html.EscapeString(s.Domain()))
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
