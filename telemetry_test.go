package ddoauth_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// recordedOp is one operation a telemetry recorder saw end.
type recordedOp struct {
	op ddoauth.Operation
	r  ddoauth.Result
}

// telRecorder is a Telemetry that keeps what it is told.
type telRecorder struct {
	mu      sync.Mutex
	started int
	ended   []recordedOp
}

func (rec *telRecorder) Start(ctx context.Context, op ddoauth.Operation) (context.Context, func(ddoauth.Result)) {
	rec.mu.Lock()
	rec.started++
	rec.mu.Unlock()
	return ctx, func(r ddoauth.Result) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.ended = append(rec.ended, recordedOp{op, r})
	}
}

func (rec *telRecorder) take() (int, []recordedOp) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	started, ended := rec.started, rec.ended
	rec.started, rec.ended = 0, nil
	return started, ended
}

// An authorized request with a cached token never reaches Telemetry; a
// refresh is one refresh and one token request, each ended once.
func TestTelemetryHotPathUntouched(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dd := ddoauthtest.NewUnstartedServer()
		oc := dd.NewClient(testRedirect)
		rec := &telRecorder{}
		c, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: testRedirect,
			HTTPClient: &http.Client{Transport: dd.Transport()}, Telemetry: rec})
		require.NoError(t, err)
		authURL, p, err := c.Start(ddoauth.Sites()[3])
		require.NoError(t, err)
		cb, err := dd.Approve(t.Context(), authURL)
		require.NoError(t, err)
		conn, err := c.Complete(t.Context(), p, cb.Query())
		require.NoError(t, err)
		started, ended := rec.take()
		assert.Equal(t, 2, started)
		require.Len(t, ended, 2)
		assert.Equal(t, ddoauth.OpTokenRequest, ended[0].op)
		assert.Equal(t, http.StatusOK, ended[0].r.StatusCode)
		assert.Equal(t, ddoauth.OpExchange, ended[1].op)
		assert.Equal(t, "ok", ended[1].r.Outcome)
		assert.Equal(t, "EU1", ended[1].r.Site.Name())

		store := &ddoauth.MemoryStore{}
		require.NoError(t, store.Save(t.Context(), "tenant-1", conn))
		ts := c.TokenSource(store, "tenant-1")
		_, err = ts.TokenContext(t.Context()) // the first read loads the store
		require.NoError(t, err)
		rec.take()
		hc := ts.Client(newNoop())
		for range 100 {
			_, err := ts.TokenContext(t.Context())
			require.NoError(t, err)
			resp, err := hc.Get("https://api.datadoghq.eu/api/v1/validate")
			require.NoError(t, err)
			resp.Body.Close()
		}
		synctest.Wait()
		started, ended = rec.take()
		assert.Zero(t, started)
		assert.Empty(t, ended)

		time.Sleep(2 * time.Hour)
		_, err = ts.TokenContext(t.Context())
		require.NoError(t, err)
		synctest.Wait()
		started, ended = rec.take()
		assert.Equal(t, 2, started)
		require.Len(t, ended, 2)
		assert.Equal(t, ddoauth.OpTokenRequest, ended[0].op)
		assert.Equal(t, ddoauth.OpRefresh, ended[1].op)
		assert.Equal(t, ddoauth.Result{Site: ddoauth.Sites()[3], Outcome: "ok"}, ended[1].r)
	})
}

// Results classify failures into the documented outcomes, with Datadog's
// status and a registered OAuth code only.
func TestTelemetryRefreshOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fault   ddoauthtest.Fault
		outcome string
		status  int
		code    string
	}{
		{"503", ddoauthtest.Fault{Times: -1, Status: 503}, "5xx", 503, "temporarily_unavailable"},
		{"429", ddoauthtest.Fault{Times: 1, Status: 429, RetryAfter: time.Hour}, "429", 429, "temporarily_unavailable"},
		{"network", ddoauthtest.Fault{Times: -1, DropConnection: true}, "network", 0, ""},
		{"invalid_client", ddoauthtest.Fault{Times: 1, Status: 401, Body: `{"error":"invalid_client"}`}, "invalid_client", 401, "invalid_client"},
		{"unregistered code", ddoauthtest.Fault{Times: 1, Status: 400, Body: `{"error":"acme-org-specific"}`}, "invalid_request", 400, "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				dd := ddoauthtest.NewUnstartedServer()
				rec := &telRecorder{}
				oc := dd.NewClient(testRedirect)
				c, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: testRedirect,
					HTTPClient: &http.Client{Transport: dd.Transport()}, Telemetry: rec})
				require.NoError(t, err)
				authURL, p, err := c.Start(ddoauth.Sites()[2])
				require.NoError(t, err)
				cb, err := dd.Approve(t.Context(), authURL)
				require.NoError(t, err)
				conn, err := c.Complete(t.Context(), p, cb.Query())
				require.NoError(t, err)
				store := &ddoauth.MemoryStore{}
				require.NoError(t, store.Save(t.Context(), "tenant-1", conn))
				time.Sleep(2 * time.Hour)
				dd.Fail(ddoauthtest.EndpointToken, tt.fault)
				rec.take()
				_, err = c.TokenSource(store, "tenant-1").TokenContext(t.Context())
				require.Error(t, err)
				synctest.Wait()
				_, ended := rec.take()
				require.NotEmpty(t, ended)
				last := ended[len(ended)-1]
				require.Equal(t, ddoauth.OpRefresh, last.op)
				assert.Equal(t, tt.outcome, last.r.Outcome)
				assert.Equal(t, tt.status, last.r.StatusCode)
				assert.Equal(t, tt.code, last.r.Code)
				assert.Equal(t, "US5", last.r.Site.Name())
				for _, e := range ended[:len(ended)-1] {
					assert.Equal(t, ddoauth.OpTokenRequest, e.op)
				}
			})
		})
	}
}
