package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
	"github.com/ddoauth/ddoauth/examples/internal/cli"
)

const sessionCookie = "session"

// backend is the partner's server. Users, sessions and connections live in
// memory; the tokens in store, by connection ID; the API keys in keys, by
// organization (see apiKeyID).
type backend struct {
	origin     string
	site       ddoauth.Site // for onboarding links that name none; zero: a site picker
	client     *ddoauth.Client
	handlers   *ddoauth.Handlers
	dd         *ddoauthtest.Server // nil against real Datadog
	mux        *http.ServeMux
	store      store
	closeStore func()
	keys       *keyStore
	logs       io.Writer

	mu       sync.Mutex
	sessions map[string]string  // session ID -> user
	conns    map[string]*record // connection ID -> record
}

// record is what the partner knows about a connection besides its secrets.
type record struct {
	ID      string    `json:"id"`
	User    string    `json:"-"`
	Site    string    `json:"site"`
	Region  string    `json:"site_name"`
	Scopes  []string  `json:"scopes"`
	Last4   string    `json:"api_key_last4,omitempty"`
	Status  string    `json:"status"` // connected, connected_without_api_key, revoked, disconnected
	Note    string    `json:"note,omitempty"`
	Created time.Time `json:"created"`
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.mux.ServeHTTP(w, r) }

// Close stops the emulator, if any, and closes the store.
func (b *backend) Close() {
	if b.dd != nil {
		b.dd.Close()
	}
	if b.closeStore != nil {
		b.closeStore()
	}
}

func (b *backend) routes() {
	b.mux = http.NewServeMux()
	b.mux.HandleFunc("GET /{$}", b.home)
	b.mux.HandleFunc("POST /signin", b.signIn)
	b.mux.HandleFunc("POST /signout", b.signOut)
	onboarding := b.handlers.Onboarding()
	if b.dd != nil {
		onboarding = b.viaGateway(onboarding)
		b.mux.Handle("/_datadog/{host}/{path...}", b.gateway())
	}
	b.mux.Handle("GET /oauth/datadog/onboarding", b.signedIn(b.siteByName(onboarding)))
	b.mux.Handle("GET /oauth/datadog/callback", b.handlers.Callback())
	b.mux.HandleFunc("GET /connections", b.listConnections)
	b.mux.HandleFunc("POST /connections/{id}/disconnect", b.disconnect)
}

func (b *backend) user(r *http.Request) string {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sessions[ck.Value]
}

// session is HandlerConfig.Session: the ID of r's live session. The
// handlers keep a hash of it in each authorization's cookie, so that
// another user's browser cannot complete it (login CSRF).
func (b *backend) session(r *http.Request) (string, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", err
	}
	if b.user(r) == "" {
		return "", errors.New("unknown or ended session")
	}
	return ck.Value, nil
}

// signedIn sends a visitor without a session to sign in first, then back.
func (b *backend) signedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.user(r) == "" {
			http.Redirect(w, r, "/?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// siteByName lets the onboarding URL take a site as every example does:
// a site's name (?site=eu1) becomes its domain, and a link that names no
// site gets b.site, if any. Whatever Datadog sends passes unchanged.
func (b *backend) siteByName(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		v := q.Get("site")
		switch {
		case v != "" && !strings.Contains(v, "."):
			if s, err := cli.Site(v); err == nil {
				q.Set("site", s.Domain())
			}
		case v == "" && q.Get("domain") == "" && !b.site.IsZero():
			q.Set("domain", b.site.Domain())
		default:
			next.ServeHTTP(w, r)
			return
		}
		r = r.Clone(r.Context())
		r.URL.RawQuery = q.Encode()
		next.ServeHTTP(w, r)
	})
}

func randomID(prefix string) string {
	b := make([]byte, 18)
	rand.Read(b) //nolint:errcheck // never fails since Go 1.24
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

func validUser(u string) bool {
	return u != "" && len(u) <= 64 && !strings.ContainsFunc(u, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@-", r))
	})
}

// safeNext keeps sign-in redirects on this server's onboarding URL.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/oauth/datadog/onboarding") && !strings.HasPrefix(next, "//") {
		return next
	}
	return "/"
}

func (b *backend) signIn(w http.ResponseWriter, r *http.Request) {
	user := r.PostFormValue("user")
	if !validUser(user) {
		http.Error(w, "user: 1-64 letters, digits, '.', '_', '@' or '-'", http.StatusBadRequest)
		return
	}
	id := randomID("")
	b.mu.Lock()
	b.sessions[id] = user
	b.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: true,
		SameSite: http.SameSiteLaxMode, MaxAge: int((12 * time.Hour).Seconds())})
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (b *backend) signOut(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		b.mu.Lock()
		delete(b.sessions, ck.Value)
		b.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// apiKeyID names the API key of an organization. Datadog creates one key
// per organization and shows it once, so the key must be found again when
// the organization reconnects: a new connection ID each time would ask
// Datadog again and meet ErrAPIKeyExists. The example knows the
// organization by its user and site; a real backend uses its own tenant,
// the account that owns the Datadog organization.
func apiKeyID(user string, site ddoauth.Site) string { return user + "/" + site.Domain() }

// onConnect stores a new connection for the signed-in user and gets the
// organization's API key, which Datadog shows once. The handler calls it
// on a context the browser cannot cancel.
func (b *backend) onConnect(r *http.Request, conn *ddoauth.Connection) error {
	user := b.user(r)
	if user == "" {
		return errors.New("the callback came without a signed-in session")
	}
	rec := &record{ID: randomID("c_"), User: user, Site: conn.Site.Domain(), Region: conn.Site.Name(),
		Scopes: conn.Scopes, Status: "connected", Created: conn.Created}
	if err := b.store.Save(r.Context(), rec.ID, conn); err != nil {
		return err
	}
	keyID := apiKeyID(user, conn.Site)
	key, err := b.client.EnsureAPIKey(r.Context(), conn, b.keys, keyID)
	if notSaved, ok := errors.AsType[*ddoauth.APIKeyNotSavedError](err); ok {
		// Datadog created the key and will not show it again: keep it,
		// and the connection, rather than lose it with the grant.
		key, err = notSaved.Key(), nil
		b.keys.keep(keyID, key)
		fmt.Fprintf(b.logs, "partner-backend: API key ...%s of %s kept in the fallback store: %v\n", key.Last4, keyID, notSaved.Err)
		rec.Note = "the API key is in the fallback store: move it to the key store"
	}
	switch {
	case err == nil:
		rec.Last4 = key.Last4
	case errors.Is(err, ddoauth.ErrAPIKeyExists), errors.Is(err, ddoauth.ErrForbidden):
		// The grant is fine; data cannot be sent until the key is sorted out.
		rec.Status = "connected_without_api_key"
		if e, ok := errors.AsType[*ddoauth.Error](err); ok {
			rec.Note = e.Hint
		}
	default:
		return err // the handler revokes the grant
	}
	b.mu.Lock()
	b.conns[rec.ID] = rec
	b.mu.Unlock()
	return nil
}

func (b *backend) userConnections(user string) []record {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []record
	for _, rec := range b.conns {
		if rec.User == user {
			out = append(out, *rec)
		}
	}
	slices.SortFunc(out, func(a, b record) int { return a.Created.Compare(b.Created) })
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) //nolint:errcheck
}

func (b *backend) listConnections(w http.ResponseWriter, r *http.Request) {
	user := b.user(r)
	if user == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "sign in first"})
		return
	}
	conns := b.userConnections(user)
	if conns == nil {
		conns = []record{}
	}
	for i := range conns {
		b.markRevoked(r.Context(), &conns[i])
	}
	writeJSON(w, http.StatusOK, conns)
}

// markRevoked reports a grant Datadog revoked (the store marks it when a
// refresh answers invalid_grant) as revoked.
func (b *backend) markRevoked(ctx context.Context, rec *record) {
	if rec.Status == "disconnected" {
		return
	}
	if conn, err := b.store.Load(ctx, rec.ID); err == nil && conn.Revoked {
		rec.Status = "revoked"
	}
}

func (b *backend) disconnect(w http.ResponseWriter, r *http.Request) {
	user := b.user(r)
	id := r.PathValue("id")
	b.mu.Lock()
	rec := b.conns[id]
	b.mu.Unlock()
	if user == "" || rec == nil || rec.User != user {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such connection"})
		return
	}
	if err := b.revoke(r.Context(), id); err != nil {
		body := map[string]string{"error": err.Error()}
		if e, ok := errors.AsType[*ddoauth.Error](err); ok && e.Hint != "" {
			body["hint"] = e.Hint
		}
		writeJSON(w, http.StatusBadGateway, body)
		return
	}
	b.mu.Lock()
	rec.Status = "disconnected"
	out := *rec
	b.mu.Unlock()
	if r.PostFormValue("html") == "1" { // the home page's button
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// revoke revokes the connection's grant at Datadog and forgets its
// tokens. The record stays, to show the disconnection, and Revoked makes a
// TokenSource answer ErrRevoked instead of trying. Another replica may
// refresh meanwhile, rotating the refresh token: then the write conflicts,
// and the newer copy is revoked in turn.
func (b *backend) revoke(ctx context.Context, id string) error {
	var err error
	for range 3 {
		var conn *ddoauth.Connection
		conn, err := b.store.Load(ctx, id)
		if err != nil {
			return err
		}
		if conn.Revoked { // a second click, or revoked by the customer
			return nil
		}
		if err := b.client.Revoke(ctx, conn); err != nil {
			return err
		}
		gone := &ddoauth.Connection{Site: conn.Site, Scopes: conn.Scopes, Created: conn.Created, Revoked: true,
			Version: conn.Version}
		if err = b.store.Save(ctx, id, gone); !errors.Is(err, ddoauth.ErrConflict) {
			return err
		}
	}
	return err
}

func (b *backend) home(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	var s strings.Builder
	s.WriteString(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Partner backend</title></head><body><h1>Partner backend</h1>`)
	user := b.user(r)
	if user == "" {
		fmt.Fprintf(&s, `<form method="post" action="/signin"><input type="hidden" name="next" value="%s">`+
			`<label>User <input name="user" value="alice"></label> <button type="submit">Sign in</button></form>`,
			html.EscapeString(safeNext(r.URL.Query().Get("next"))))
		s.WriteString("</body></html>\n")
		fmt.Fprint(w, s.String())
		return
	}
	fmt.Fprintf(&s, `<p>Signed in as <strong>%s</strong>.</p><form method="post" action="/signout"><button type="submit">Sign out</button></form>`,
		html.EscapeString(user))
	s.WriteString(`<h2>Connect Datadog</h2><p>As Datadog's integration tile links here, with your site:</p><ul>`)
	for _, site := range ddoauth.Sites() {
		fmt.Fprintf(&s, `<li><a href="/oauth/datadog/onboarding?site=%s">%s</a></li>`,
			url.QueryEscape("https://"+site.BrowserHost()), site.Name())
	}
	s.WriteString(`</ul><p>Or <a href="/oauth/datadog/onboarding">without a site</a> (a site picker).</p>`)
	s.WriteString(`<h2>Connections</h2><p>As JSON: <a href="/connections">/connections</a></p><ul>`)
	for _, rec := range b.userConnections(user) {
		b.markRevoked(r.Context(), &rec)
		fmt.Fprintf(&s, `<li>%s (%s): %s, API key …%s`, html.EscapeString(rec.Region), html.EscapeString(rec.Site),
			html.EscapeString(rec.Status), html.EscapeString(rec.Last4))
		if rec.Status != "disconnected" {
			fmt.Fprintf(&s, ` <form method="post" action="/connections/%s/disconnect">`+
				`<input type="hidden" name="html" value="1"><button type="submit">Disconnect</button></form>`, html.EscapeString(rec.ID))
		}
		s.WriteString("</li>")
	}
	s.WriteString("</ul></body></html>\n")
	fmt.Fprint(w, s.String())
}
