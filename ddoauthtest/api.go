package ddoauthtest

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ddoauth/ddoauth"
)

// Submission is a payload an intake accepted.
type Submission struct {
	Time        time.Time
	Endpoint    Endpoint     // EndpointSeries, EndpointEvents or EndpointLogs
	Site        ddoauth.Site // the site whose intake received it
	OrgID       string       // the org whose API key sent it
	ContentType string
	Body        []byte // decompressed when sent with gzip, deflate or zstd1 (with Server.DecodeZstd) encoding
}

// Received returns the payloads accepted by site's intakes, oldest first,
// or those of every site for the zero Site.
func (s *Server) Received(site ddoauth.Site) []Submission {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Submission
	for _, sub := range s.received {
		if site.IsZero() || sub.Site.Domain() == site.Domain() {
			sub.Body = slices.Clone(sub.Body)
			out = append(out, sub)
		}
	}
	return out
}

// APIKeyName is the name Datadog gives the key the API-key endpoint creates.
const APIKeyName = "OAuth Client API Key"

type apiKeyResponse struct {
	Data apiKeyData `json:"data"`
}

type apiKeyData struct {
	Type          string            `json:"type"`
	ID            string            `json:"id"`
	Attributes    apiKeyAttributes  `json:"attributes"`
	Relationships map[string]string `json:"relationships"`
}

type apiKeyAttributes struct {
	CreatedAt  string `json:"created_at"`
	Key        string `json:"key"`
	Last4      string `json:"last4"`
	ModifiedAt string `json:"modified_at"`
	Name       string `json:"name"`
}

// createAPIKey serves api_keys/marketplace. It answers 201 with the key,
// 403 {"errors":["Forbidden"]} without a valid token of this site carrying
// api_keys_write, and 409 with an errors body while the organization has a
// key. Datadog documents neither the success status nor the second call.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request, x *exchange) {
	s.mu.Lock()
	at := s.bearer(r, x)
	if at == nil || !slices.Contains(at.grant.scopes, ScopeAPIKeysWrite) {
		s.mu.Unlock()
		restErrors(w, http.StatusForbidden, "Forbidden")
		return
	}
	g := at.grant
	if _, ok := s.keys[g.orgID]; ok {
		s.mu.Unlock()
		restErrors(w, http.StatusConflict, "An API key was already created for this organization; revoke "+APIKeyName+" in API Keys settings to create a new one")
		return
	}
	value := randomHex(16)
	k := &apiKey{APIKey: APIKey{
		ID: newUUID(), OrgID: g.orgID, ClientID: g.clientID, Site: g.site,
		Name: APIKeyName, Last4: value[len(value)-4:], CreatedAt: s.now().UTC(),
	}, value: value}
	s.keys[g.orgID] = k
	s.keyByVal[value] = k
	s.mu.Unlock()

	ts := k.CreatedAt.Format(time.RFC3339Nano)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(apiKeyResponse{Data: apiKeyData{ //nolint:errcheck
		Type: "api_keys", ID: k.ID,
		Attributes:    apiKeyAttributes{CreatedAt: ts, Key: value, Last4: k.Last4, ModifiedAt: ts, Name: k.Name},
		Relationships: map[string]string{},
	}})
}

// apiKeyOf returns the live API key in the DD-API-KEY header if it belongs
// to an org of this site, or nil. Called with s.mu held.
func (s *Server) apiKeyOf(r *http.Request, x *exchange) *apiKey {
	k := s.keyByVal[strings.TrimSpace(r.Header.Get("DD-API-KEY"))]
	if k == nil || k.revoked || k.Site.Domain() != x.site.Domain() {
		return nil
	}
	return k
}

func (s *Server) validate(w http.ResponseWriter, r *http.Request, x *exchange) {
	s.mu.Lock()
	k := s.apiKeyOf(r, x)
	s.mu.Unlock()
	if k == nil {
		restErrors(w, http.StatusForbidden, "Forbidden")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"valid":true}`+"\n") //nolint:errcheck
}

// Intake limits: Datadog's compressed payload limit for metrics, and a cap
// on what a compressed body may expand to.
const (
	maxIntake   = 5 << 20
	maxExpanded = 64 << 20
)

// intake accepts series, events and logs sent with an API key of an org of
// this site (202; 200 at the v1 logs intake), and records them. Bearer tokens are refused, as data is
// sent with the API key, not a token scope.
func (s *Server) intake(w http.ResponseWriter, r *http.Request, x *exchange) {
	s.mu.Lock()
	k := s.apiKeyOf(r, x)
	s.mu.Unlock()
	if k == nil {
		restErrors(w, http.StatusForbidden, "Forbidden")
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxIntake))
	if err != nil {
		restErrors(w, http.StatusRequestEntityTooLarge, "Payload too large")
		return
	}
	body, status, msg := decode(raw, r.Header.Get("Content-Encoding"), s.DecodeZstd)
	if status != 0 {
		restErrors(w, status, msg)
		return
	}
	if x.endpoint != EndpointLogs && !json.Valid(body) {
		restErrors(w, http.StatusBadRequest, "Malformed JSON payload")
		return
	}
	s.mu.Lock()
	s.received = append(s.received, Submission{
		Time: s.now(), Endpoint: x.endpoint, Site: x.site, OrgID: k.OrgID,
		ContentType: r.Header.Get("Content-Type"), Body: body,
	})
	s.events++
	id := s.events
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/v1/input" {
		w.WriteHeader(http.StatusOK) // the v1 logs intake answers 200
	} else {
		w.WriteHeader(http.StatusAccepted)
	}
	switch {
	case r.URL.Path == "/api/v1/series":
		io.WriteString(w, `{"status":"ok"}`+"\n") //nolint:errcheck
	case x.endpoint == EndpointSeries:
		io.WriteString(w, `{"errors":[]}`+"\n") //nolint:errcheck
	case x.endpoint == EndpointEvents:
		json.NewEncoder(w).Encode(map[string]any{"status": "ok", "event": map[string]any{"id": id}}) //nolint:errcheck
	default:
		io.WriteString(w, "{}\n") //nolint:errcheck
	}
}

func decode(raw []byte, encoding string, zstd func(io.Reader) io.ReadCloser) ([]byte, int, string) {
	var rd io.Reader
	var err error
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return raw, 0, ""
	case "gzip":
		rd, err = gzip.NewReader(bytes.NewReader(raw))
	case "deflate":
		rd, err = zlib.NewReader(bytes.NewReader(raw))
	case "zstd1":
		if zstd == nil {
			return nil, http.StatusUnsupportedMediaType, "Unsupported Content-Encoding"
		}
		zr := zstd(bytes.NewReader(raw))
		defer zr.Close()
		rd = zr
	default:
		return nil, http.StatusUnsupportedMediaType, "Unsupported Content-Encoding"
	}
	if err != nil {
		return nil, http.StatusBadRequest, "Malformed compressed payload"
	}
	out, err := io.ReadAll(io.LimitReader(rd, maxExpanded+1))
	switch {
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return nil, http.StatusBadRequest, "Malformed compressed payload"
	case err != nil:
		return nil, http.StatusBadRequest, "Truncated compressed payload"
	case len(out) > maxExpanded:
		return nil, http.StatusRequestEntityTooLarge, "Payload too large"
	}
	return out, 0, ""
}

// listEvents serves GET /api/v1/events with a bearer token carrying
// events_read: the events the token's org sent to this site.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, x *exchange) {
	s.mu.Lock()
	at := s.bearer(r, x)
	if at == nil || !slices.Contains(at.grant.scopes, ScopeEventsRead) {
		s.mu.Unlock()
		restErrors(w, http.StatusForbidden, "Forbidden")
		return
	}
	events := []json.RawMessage{}
	for _, sub := range s.received {
		if sub.Endpoint == EndpointEvents && sub.OrgID == at.grant.orgID && sub.Site.Domain() == x.site.Domain() {
			events = append(events, json.RawMessage(sub.Body))
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"events": events}) //nolint:errcheck
}
