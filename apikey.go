package ddoauth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ddoauth/ddoauth/internal/retry"
)

// ErrAPIKeyExists: Datadog refused to create the partner's API key,
// presumably because the organization already has one. Its value was
// shown once and cannot be read again. Recovery is manual: the customer
// revokes the key named "OAuth Client API Key" under Organization Settings
// > API Keys, the integration is re-installed, and the flow runs again.
var ErrAPIKeyExists = errors.New("API key already exists")

// APIKey is the API key Datadog creates for the partner in a customer's
// organization, used to send metrics, logs and events. Datadog shows Key
// once: store it before anything else, with [MarshalAPIKey]. Format,
// LogValue and MarshalJSON show only Last4.
type APIKey struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Key     string    `json:"key"`
	Last4   string    `json:"last4"`
	Created time.Time `json:"created"`
	Site    Site      `json:"site"`

	// OrgID is the UUID of the organization the key was created in, the
	// OrgID of the connection that asked for it; empty when unknown.
	OrgID string `json:"org_id,omitempty"`
}

// Format prints k with Last4 only, for every verb.
func (k APIKey) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "ddoauth.APIKey{ID:%q Name:%q Key:%s Last4:%q Site:%q OrgID:%q}", k.ID, k.Name, redacted(k.Key), k.Last4, k.Site.String(), k.OrgID)
}

// LogValue logs k with Last4 only.
func (k APIKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("last4", k.Last4), slog.String("site", k.Site.String()),
		slog.String("org_id", k.OrgID))
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
// revoked token), [ErrAPIKeyExists] for 400, 409 and 422, [ErrServer] for
// a redirect, 408, 429, a 5xx or an answer without a key (retry later;
// Error.RateLimit has Datadog's figures), or a network error (after which
// whether a key was created is unknown).
func (c *Client) CreateAPIKey(ctx context.Context, conn *Connection) (*APIKey, error) {
	return c.createAPIKey(ctx, conn, "")
}

func (c *Client) createAPIKey(ctx context.Context, conn *Connection, id string) (_ *APIKey, err error) {
	ctx, end := c.begin(ctx, OpCreateAPIKey)
	defer func() { end(connSite(conn), err) }()
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
		return nil, transportError("create API key", site, redactErr(err, at, conn.Token.RefreshToken, c.client(site).ClientSecret))
	}
	if status < 200 || status > 299 {
		e := responseError("create API key", site, status, header, body, at, conn.Token.RefreshToken, c.client(site).ClientSecret)
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
	k := &APIKey{ID: r.Data.ID, Name: a.Name, Key: a.Key, Last4: a.Last4, Site: site, OrgID: conn.OrgID}
	if len(k.Last4) != 4 || !strings.HasSuffix(a.Key, k.Last4) {
		k.Last4 = a.Key[max(len(a.Key)-4, 0):] // logged: never more of the key, nor anything else
	}
	k.Created, _ = time.Parse(time.RFC3339, a.CreatedAt)
	c.log.LogAttrs(ctx, slog.LevelInfo, "ddoauth: API key created", slog.String("site", site.Name()), slog.String("last4", k.Last4))
	c.emit(ctx, Event{Kind: EventAPIKeyCreated, ID: id, Site: site, Last4: k.Last4})
	return k, nil
}

// APIKeyStore keeps the partner's API key of each organization, by an ID
// the partner chooses. Use one that stays the same when the customer
// connects the same organization again and differs between
// organizations: [Connection.APIKeyID] makes one of the customer's ID,
// the site and the organization's ID. Datadog creates one key per
// organization, so a fresh ID per connection would ask for a second key
// and get ErrAPIKeyExists, and an ID shared by two organizations would
// hand one of them the other's key.
//
// SaveAPIKey inserts: when id already has a key it keeps that one and
// returns an error wrapping [ErrConflict]. It must be durable when it
// returns: the key cannot be read from Datadog again. A store that is
// also a [Leaser] lets replicas agree on which of them asks Datadog.
type APIKeyStore interface {
	LoadAPIKey(ctx context.Context, id string) (*APIKey, error) // ErrNotFound when absent
	SaveAPIKey(ctx context.Context, id string, key *APIKey) error
}

// APIKeyNotSavedError is returned when Datadog created the API key but the
// store kept failing to save it. The key is not lost: Key returns it, so
// the caller can put it somewhere else; Datadog will not show it again.
// Neither Error nor fmt output shows more than its last four characters.
type APIKeyNotSavedError struct {
	key *APIKey
	Err error // the store's last error
}

// Key returns the API key that could not be saved.
func (e *APIKeyNotSavedError) Key() *APIKey { return e.key }

func (e *APIKeyNotSavedError) Error() string {
	return fmt.Sprintf("ddoauth: API key ending %q created but not saved: %v", e.key.Last4, e.Err)
}

func (e *APIKeyNotSavedError) Unwrap() error { return e.Err }

// Format prints e as Error does, for every verb.
func (e *APIKeyNotSavedError) Format(f fmt.State, verb rune) { io.WriteString(f, e.Error()) }

// EnsureAPIKey returns the API key of the connection conn saved under id,
// creating it with [Client.CreateAPIKey] only if store holds none, so that
// Datadog is asked at most once. When store is also a [Leaser], replicas
// calling at once agree through a lease: one asks Datadog, the others wait
// for its key, and every caller gets the same key. A failed save is
// retried with backoff; if it keeps failing the error is an
// *APIKeyNotSavedError carrying the key. Other errors are those of the
// store and of CreateAPIKey.
func (c *Client) EnsureAPIKey(ctx context.Context, conn *Connection, store APIKeyStore, id string) (*APIKey, error) {
	key, err := loadAPIKey(ctx, store, id)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return key, err
	}
	if l, ok := store.(Leaser); ok {
		owner := rand.Text()
		for wait := 1; ; wait++ {
			_, err := l.Lease(ctx, apiKeyLease(id), owner, c.leaseTTL())
			if err == nil {
				break
			}
			if !errors.Is(err, ErrLeaseHeld) {
				return nil, storeError("lease API key", Site{}, err)
			}
			if err := retry.Sleep(ctx, retry.Backoff(wait, leasePollBase, leasePollMax)); err != nil {
				return nil, &Error{Op: "create API key", Err: err, also: []error{ErrLeaseHeld},
					Description: "another replica is creating the API key"}
			}
			if key, err := loadAPIKey(ctx, store, id); err == nil || !errors.Is(err, ErrNotFound) {
				return key, err
			}
		}
		defer func() {
			if err := l.Release(context.WithoutCancel(ctx), apiKeyLease(id), owner); err != nil {
				c.log.LogAttrs(ctx, slog.LevelWarn, "ddoauth: releasing an API key lease failed", slog.String("error", err.Error()))
			}
		}()
		// The last holder may have saved just before this one took over.
		if key, err := loadAPIKey(ctx, store, id); err == nil || !errors.Is(err, ErrNotFound) {
			return key, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.refreshTimeout)
	defer cancel()
	key, err = c.createAPIKey(ctx, conn, id)
	if err != nil {
		return nil, err
	}
	// Saving survives the caller giving up: the key exists now either way.
	ctx = context.WithoutCancel(ctx)
	for attempt := 1; ; attempt++ {
		err = store.SaveAPIKey(ctx, id, key)
		if errors.Is(err, ErrConflict) {
			// An earlier try that seemed to fail may have landed; or a
			// replica without the lease saved its own key first: the stored
			// key is the one every caller gets.
			stored, lerr := loadAPIKey(ctx, store, id)
			if lerr == nil {
				if stored.Key != key.Key {
					c.log.LogAttrs(ctx, slog.LevelWarn, "ddoauth: another API key was saved first; this one is not kept",
						slog.String("id", key.ID), slog.String("last4", key.Last4))
				}
				return stored, nil
			}
			err = lerr
		}
		if err == nil {
			return key, nil
		}
		d, ok := c.retry.Delay(ctx, attempt, 0)
		if !ok {
			break
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "ddoauth: retrying API key save", slog.Int("attempt", attempt),
			slog.String("last4", key.Last4), slog.String("error", err.Error()))
		retry.Sleep(ctx, d)
	}
	c.log.LogAttrs(ctx, slog.LevelError, "ddoauth: API key created but not saved", slog.String("last4", key.Last4),
		slog.String("error", err.Error()))
	return nil, &APIKeyNotSavedError{key: key, Err: err}
}

func loadAPIKey(ctx context.Context, store APIKeyStore, id string) (*APIKey, error) {
	key, err := store.LoadAPIKey(ctx, id)
	if err != nil {
		return nil, storeError("load API key", Site{}, err)
	}
	return key, nil
}
