package ddoauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// ErrAPIKeyExists: Datadog refused to create the partner's API key,
// presumably because the organization already has one. Its value was
// shown once and cannot be read again. Recovery is manual: the customer
// revokes the key named "OAuth Client API Key" under Organization Settings
// > API Keys, the integration is re-installed, and the flow runs again.
var ErrAPIKeyExists = errors.New("API key already created for this organization")

// APIKey is the API key Datadog creates for the partner in a customer's
// organization, used to send metrics, logs and events. Datadog shows Key
// once: store it before anything else. Format prints only Last4.
type APIKey struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Key     string    `json:"key"`
	Last4   string    `json:"last4"`
	Created time.Time `json:"created"`
	Site    Site      `json:"site"`
}

// Format prints k with Last4 only, for every verb.
func (k APIKey) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "ddoauth.APIKey{ID:%q Name:%q Key:%s Last4:%q Site:%q}", k.ID, k.Name, redacted(k.Key), k.Last4, k.Site.String())
}

// LogValue logs k with Last4 only.
func (k APIKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("last4", k.Last4), slog.String("site", k.Site.String()))
}

// apiKeyResponse is the documented answer of api_keys/marketplace.
type apiKeyResponse struct {
	Data struct {
		Type       string `json:"type"`
		ID         string `json:"id"`
		Attributes struct {
			CreatedAt string `json:"created_at"`
			Key       string `json:"key"`
			Last4     string `json:"last4"`
			Name      string `json:"name"`
		} `json:"attributes"`
	} `json:"data"`
}

// CreateAPIKey asks Datadog for the partner's API key in conn's
// organization (POST https://api.<domain>/api/v2/api_keys/marketplace with
// conn's access token). The connection needs the api_keys_write scope and
// an unexpired access token. Datadog creates one such key per organization
// and shows its value once: call this once and store the result first.
//
// Errors wrap [ErrForbidden] for 401 and 403 (missing scope, expired or
// revoked token), [ErrAPIKeyExists] for 400, 409 and 422, [ErrRedirectRefused]
// for a redirect, [ErrServer] for 408, 429, a 5xx or an answer without a
// key (retry later), or a network error (after which whether a key was
// created is unknown).
func (c *Client) CreateAPIKey(ctx context.Context, conn *Connection) (*APIKey, error) {
	if conn == nil || conn.Token == nil || conn.Token.AccessToken == "" {
		return nil, &Error{Op: "create API key", Err: ErrForbidden, Description: "the connection has no access token"}
	}
	site, err := c.connectionSite(conn.Site)
	if err != nil {
		return nil, err
	}
	at := conn.Token.AccessToken
	status, header, body, err := c.do(ctx, http.MethodPost, site.APIKeyURL(), nil, at)
	if err != nil {
		return nil, &Error{Op: "create API key", Site: site.String(), Err: err}
	}
	if status < 200 || status > 299 {
		e := responseError("create API key", site, status, header, body, at)
		switch status {
		case http.StatusUnauthorized, http.StatusForbidden:
			e.Err = ErrForbidden
			e.Hint = "the OAuth client needs the api_keys_write scope and the access token must be valid"
		case http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity:
			// Datadog does not document the refusal of a second key; these
			// are the statuses an API gives for "already exists".
			e.Err = ErrAPIKeyExists
			e.Hint = `the customer revokes the key named "OAuth Client API Key" under API Keys, ` +
				"the integration is re-installed, and the authorization runs again"
		}
		return nil, e
	}
	var r apiKeyResponse
	if err := json.Unmarshal(body, &r); err != nil || r.Data.Attributes.Key == "" {
		return nil, &Error{Op: "create API key", Site: site.String(), StatusCode: status, Err: ErrServer,
			Description: "the answer has no data.attributes.key"}
	}
	a := r.Data.Attributes
	k := &APIKey{ID: r.Data.ID, Name: a.Name, Key: a.Key, Last4: a.Last4, Site: site}
	if k.Last4 == "" && len(a.Key) >= 4 {
		k.Last4 = a.Key[len(a.Key)-4:]
	}
	k.Created, _ = time.Parse(time.RFC3339, a.CreatedAt)
	c.log.LogAttrs(ctx, slog.LevelInfo, "ddoauth: API key created", slog.String("site", site.Name()), slog.String("last4", k.Last4))
	return k, nil
}
