package ddoauth

import (
	"fmt"
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
// partner: the site it lives in, its tokens and the scopes granted. It
// marshals to JSON for storage. Format keeps tokens out of fmt output.
type Connection struct {
	Site    Site          `json:"site"` // the region, without organization subdomain
	Token   *oauth2.Token `json:"token"`
	Scopes  []string      `json:"scopes,omitempty"`
	Created time.Time     `json:"created"`
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

// Format prints c without its tokens, for every verb.
func (c Connection) Format(f fmt.State, verb rune) {
	var access, refresh, expiry string
	if c.Token != nil {
		access, refresh, expiry = redacted(c.Token.AccessToken), redacted(c.Token.RefreshToken), c.Token.Expiry.Format(time.RFC3339)
	}
	fmt.Fprintf(f, "ddoauth.Connection{Site:%q Scopes:%q AccessToken:%s RefreshToken:%s Expiry:%s Created:%s}",
		c.Site.String(), c.Scopes, access, refresh, expiry, c.Created.Format(time.RFC3339))
}
