package ddoauthtest

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// AuthorizeError is the error page the authorize endpoint shows instead of
// redirecting back, as Datadog does for an unknown client or a redirect
// URI that is not registered (RFC 6749 §4.1.2.1).
type AuthorizeError struct {
	StatusCode  int
	Code        string // "invalid_request"
	Description string // "Invalid client_id parameter value", "Mismatching redirect URI"
}

func (e *AuthorizeError) Error() string {
	return fmt.Sprintf("ddoauthtest: authorize: %s - %s (HTTP %d)", e.Code, e.Description, e.StatusCode)
}

// Approve plays the browser user approving an authorization: it opens
// authorizeURL, approves the consent page unless AutoConsent already did,
// and returns the callback URL Datadog redirects the browser to, with the
// code (or an OAuth error the authorize step redirected with). The
// requests go through [Server.Transport], so they are logged and faults
// apply. It returns an *AuthorizeError when Datadog shows an error page.
func (s *Server) Approve(ctx context.Context, authorizeURL string) (*url.URL, error) {
	return s.browse(ctx, authorizeURL, "approve")
}

// Deny plays the browser user declining an authorization: the returned
// callback URL carries error=access_denied. With AutoConsent on there is
// no page to decline and Deny fails.
func (s *Server) Deny(ctx context.Context, authorizeURL string) (*url.URL, error) {
	return s.browse(ctx, authorizeURL, "deny")
}

func (s *Server) browse(ctx context.Context, authorizeURL, decision string) (*url.URL, error) {
	browser := &http.Client{
		Transport:     s.Transport(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorizeURL, nil)
	if err != nil {
		return nil, fmt.Errorf("ddoauthtest: authorize URL: %w", err)
	}
	loc, page, err := visit(browser, req)
	if err != nil || loc != nil {
		if loc != nil && decision == "deny" && loc.Query().Has("code") {
			return nil, errors.New("ddoauthtest: Deny: AutoConsent approved the authorization")
		}
		return loc, err
	}
	id, ok := between(page, `name="consent" value="`, `"`)
	if !ok {
		return nil, errors.New("ddoauthtest: authorize answered neither a redirect nor a consent page")
	}
	form := url.Values{"consent": {html.UnescapeString(id)}, "decision": {decision}}
	post, err := http.NewRequestWithContext(ctx, http.MethodPost,
		(&url.URL{Scheme: "https", Host: req.URL.Host, Path: "/oauth2/v1/authorize"}).String(),
		strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	loc, _, err = visit(browser, post)
	if err == nil && loc == nil {
		err = errors.New("ddoauthtest: consent did not redirect")
	}
	return loc, err
}

// visit returns the redirect target, or else the body of a 200 page, or
// an *AuthorizeError.
func visit(c *http.Client, req *http.Request) (*url.URL, string, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, "", err
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc, err := resp.Location()
		return loc, "", err
	case resp.StatusCode == http.StatusOK:
		return nil, string(body), nil
	}
	e := &AuthorizeError{StatusCode: resp.StatusCode}
	code, _ := between(string(body), `<code id="error">`, `</code>`)
	desc, _ := between(string(body), `<span id="error_description">`, `</span>`)
	e.Code, e.Description = html.UnescapeString(code), html.UnescapeString(desc)
	return nil, "", e
}

func between(s, start, end string) (string, bool) {
	_, rest, ok := strings.Cut(s, start)
	if !ok {
		return "", false
	}
	v, _, ok := strings.Cut(rest, end)
	return v, ok
}

// Browser returns an *http.Client that plays the user's browser in a test
// of a partner's own onboarding and callback handlers: it keeps cookies in
// a new jar and follows redirects, like a browser; it sends requests for
// the hosts of the sites this server serves to the server (TLS verified
// when it is started, in memory otherwise), and every other request, such
// as those to the partner's test server, through other. Nil other means
// http.DefaultTransport.
func (s *Server) Browser(other http.RoundTripper) *http.Client {
	if other == nil {
		other = http.DefaultTransport
	}
	s.mu.Lock()
	var dd http.RoundTripper = memTransport{s}
	if s.client != nil {
		dd = s.client
	}
	s.mu.Unlock()
	jar, _ := cookiejar.New(nil) // never fails without options
	return &http.Client{Jar: jar, Transport: browserTransport{s: s, dd: dd, other: other}}
}

type browserTransport struct {
	s         *Server
	dd, other http.RoundTripper
}

func (t browserTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.s.serves(req.URL.Hostname()) {
		return t.dd.RoundTrip(req)
	}
	return t.other.RoundTrip(req)
}

// serves reports whether host belongs to a site the server answers for.
func (s *Server) serves(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if net.ParseIP(host) != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, site := range s.sites {
		d := site.Domain()
		if host == d || strings.HasSuffix(host, "."+d) || "https://"+host == site.BrowserIntakeURL() {
			return true
		}
	}
	return false
}
