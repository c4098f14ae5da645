//go:build cgo

package ddoauthtest_test

import (
	"net/http"
	"testing"

	"github.com/DataDog/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntakeZstd(t *testing.T) {
	t.Parallel()
	us5 := site(t, "US5")
	srv, c := setup(t)
	key := createKey(t, srv, us5, connect(t, srv, us5, c).str("access_token"))
	z, err := zstd.Compress(nil, []byte(`{"series":[2]}`))
	require.NoError(t, err)
	for _, tc := range []struct {
		name, encoding string
		body           []byte
		status         int
	}{
		{"zstd1", "zstd1", z, http.StatusAccepted},
		{"truncated", "zstd1", z[:len(z)/2], http.StatusBadRequest},
		{"not zstd", "zstd1", []byte("not zstd"), http.StatusBadRequest},
		{"unregistered name", "zstd", z, http.StatusUnsupportedMediaType},
	} {
		req := intakeReq(t, us5.APIURL()+"/api/v2/series", key, "")
		req.Body, req.ContentLength = nopBody(tc.body), int64(len(tc.body))
		req.Header.Set("Content-Encoding", tc.encoding)
		assert.Equal(t, tc.status, do(t, srv.Client(), req).status, tc.name)
	}
	got := srv.Received(us5)
	require.Len(t, got, 1)
	assert.Equal(t, `{"series":[2]}`, string(got[0].Body))
}
