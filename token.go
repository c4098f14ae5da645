package ddoauth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// defaultTokenTTL is used when a token response has no expires_in.
// Datadog documents one hour for access tokens; assuming it (rather than
// x/oauth2's "never expires" for a zero Expiry) makes the token refresh
// on time instead of failing with 401s.
const defaultTokenTTL = time.Hour

// Connection is a customer's Datadog organization connected to the
// partner: the site it lives in, its tokens and the scopes granted.
// Format, LogValue and MarshalJSON leave its tokens out; stores keep it
// with [MarshalConnection].
type Connection struct {
	Site    Site          `json:"site"` // the region, without organization subdomain
	Token   *oauth2.Token `json:"token"`
	Scopes  []string      `json:"scopes,omitempty"`
	Created time.Time     `json:"created"`

	// OrgID is the organization's UUID, in lower case, and OrgName its
	// name cleaned for display, as Datadog's callback named them (dd_oid,
	// dd_org_name); empty when it did not. They come from the browser's
	// redirect, not from the token: show them, key records of this
	// connection by them within the partner's own customer (see
	// [Connection.APIKeyID]), never trust them across customers. OrgName
	// holds no control or invisible characters but may hold markup:
	// escape it where it is shown.
	OrgID   string `json:"org_id,omitempty"`
	OrgName string `json:"org_name,omitempty"`

	// Revoked is set when Datadog answered invalid_grant to a refresh:
	// the customer must authorize again.
	Revoked bool `json:"revoked,omitempty"`

	// Version is the stored version this copy was read at, set by
	// [Store.Load] and [Store.Save]; zero for a connection never saved.
	// Save writes only over that version.
	Version int64 `json:"-"`

	// Fence is the fence of the lease ([Leaser]) under which this copy is
	// written, or zero. Stores keep the highest written and refuse a
	// write with a lower one.
	Fence int64 `json:"-"`
}

func newConnection(site Site, tok *oauth2.Token, now time.Time) *Connection {
	// x/oauth2 stamps Expiry with the wall clock; restamp it with ours.
	ttl := defaultTokenTTL
	if tok.ExpiresIn > 0 {
		ttl = time.Duration(tok.ExpiresIn) * time.Second
	}
	tok.Expiry = now.Add(ttl)
	var scopes []string
	if s, ok := tok.Extra("scope").(string); ok {
		scopes = strings.Fields(s)
	}
	return &Connection{Site: site, Token: tok, Scopes: scopes, Created: now}
}

// HasScope reports whether scope was granted.
func (c *Connection) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// LogValue logs c without its tokens.
func (c Connection) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("site", c.Site.String()), slog.String("scopes", strings.Join(c.Scopes, " ")),
		slog.Time("created", c.Created), slog.Bool("revoked", c.Revoked)}
	if c.OrgID != "" || c.OrgName != "" {
		attrs = append(attrs, slog.String("org_id", c.OrgID), slog.String("org_name", c.OrgName))
	}
	if c.Token != nil {
		attrs = append(attrs, slog.Time("expiry", c.Token.Expiry))
	}
	return slog.GroupValue(attrs...)
}

// Format prints c without its tokens, for every verb.
func (c Connection) Format(f fmt.State, verb rune) {
	var access, refresh, expiry string
	if c.Token != nil {
		access, refresh, expiry = redacted(c.Token.AccessToken), redacted(c.Token.RefreshToken), c.Token.Expiry.Format(time.RFC3339)
	}
	fmt.Fprintf(f, "ddoauth.Connection{Site:%q OrgID:%q OrgName:%q Scopes:%q AccessToken:%s RefreshToken:%s Expiry:%s Created:%s Revoked:%t Version:%d}",
		c.Site.String(), c.OrgID, c.OrgName, c.Scopes, access, refresh, expiry, c.Created.Format(time.RFC3339), c.Revoked, c.Version)
}

// Refresh exchanges conn's refresh token for a new access token at conn's
// site and returns the updated Connection; conn is not modified. When
// Datadog sends a new refresh token it replaces the old one, which may no
// longer work: persist the result before using it.
//
// Errors wrap [ErrInvalidGrant] when the grant was revoked (the customer
// must authorize again), [ErrInvalidClient], [ErrServer], [ErrUnknownSite]
// for a connection whose site the client does not know, or a network error.
func (c *Client) Refresh(ctx context.Context, conn *Connection) (*Connection, error) {
	if conn == nil || conn.Token == nil || conn.Token.RefreshToken == "" {
		return nil, &Error{Op: "refresh", Err: ErrInvalidGrant, Description: "the connection has no refresh token"}
	}
	site, err := c.connectionSite(conn.Site)
	if err != nil {
		return nil, err
	}
	secret, err := c.clientSecret(ctx, site)
	if err != nil {
		return nil, err
	}
	start := c.now()
	rt := conn.Token.RefreshToken
	rctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	src := c.oauth2Config(site, "", secret).TokenSource(context.WithValue(rctx, oauth2.HTTPClient, c.hc), &oauth2.Token{RefreshToken: rt})
	tok, err := src.Token()
	if err != nil {
		e := timedOut(rctx, c.tokenError("refresh", site, err, secret, rt, conn.Token.AccessToken))
		e.Hint = hint(e, c.client(site).ClientID, c.redirectURL)
		c.log.LogAttrs(ctx, slog.LevelWarn, "ddoauth: token refresh failed", slog.String("site", site.Name()),
			slog.Int("status", e.StatusCode), slog.String("request_id", e.RequestID), slog.String("error", e.Error()))
		return nil, e
	}
	next := newConnection(site, tok, start)
	next.Created, next.OrgID, next.OrgName = conn.Created, conn.OrgID, conn.OrgName
	if next.Scopes == nil {
		next.Scopes = conn.Scopes
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "ddoauth: token refresh", slog.String("site", site.Name()),
		slog.Bool("rotated", tok.RefreshToken != rt))
	return next, nil
}

// Revoke revokes conn's grant at its site (RFC 7009): the refresh token,
// then the access token. Datadog answers 2xx even for unknown tokens, so
// any 2xx is success. Anything else, a 503 in particular, fails with an
// error wrapping [ErrNotRevoked] and the cause ([ErrServer], a network
// error, ...): the token must be presumed valid and the call retried.
// Revoke does not retry by itself. Pass the stored connection, read
// last: with rotating refresh tokens an older copy's refresh token is
// already dead, and revoking it succeeds without ending the grant.
func (c *Client) Revoke(ctx context.Context, conn *Connection) (err error) {
	ctx, end := c.begin(ctx, OpRevoke)
	defer func() { end(connSite(conn), err) }()
	if conn == nil || conn.Token == nil || conn.Token.AccessToken == "" && conn.Token.RefreshToken == "" {
		return &Error{Op: "revoke", Err: ErrNotRevoked, Description: "the connection has no token"}
	}
	site, err := c.connectionSite(conn.Site)
	if err != nil {
		return err
	}
	secret, err := c.clientSecret(ctx, site)
	if err != nil {
		return err
	}
	for _, t := range [...]struct{ value, hint string }{
		{conn.Token.RefreshToken, "refresh_token"},
		{conn.Token.AccessToken, "access_token"},
	} {
		if t.value == "" {
			continue
		}
		form := url.Values{
			"token":           {t.value},
			"token_type_hint": {t.hint},
			"client_id":       {c.client(site).ClientID},
			"client_secret":   {secret},
		}
		status, header, body, err := c.do(ctx, http.MethodPost, site.RevokeURL(), form, "")
		if err != nil {
			e := transportError("revoke", site, ErrNotRevoked, redactErr(err, secret, conn.Token.RefreshToken, conn.Token.AccessToken))
			e.Hint = "the token must be presumed valid until a revocation succeeds; retry"
			return e
		}
		if status < 200 || status > 299 {
			e := responseError("revoke", site, status, header, body, secret, conn.Token.RefreshToken, conn.Token.AccessToken)
			e.Err, e.also = ErrNotRevoked, []error{e.Err}
			e.Hint = "the token must be presumed valid until a revocation succeeds; retry"
			c.log.LogAttrs(ctx, slog.LevelWarn, "ddoauth: revocation failed", slog.String("site", site.Name()), slog.Int("status", status))
			return e
		}
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "ddoauth: revoked", slog.String("site", site.Name()))
	return nil
}
