package ddoauthtest_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntakeZstd: zstd1 bodies go through Server.DecodeZstd (here a
// stand-in decoder: base64), and its errors answer 400; without it, 415.
func TestIntakeZstd(t *testing.T) {
	t.Parallel()
	us5 := site(t, "US5")
	srv, c := setup(t)
	key := createKey(t, srv, us5, connect(t, srv, us5, c).str("access_token"))
	send := func(encoding string, body []byte) int {
		req := intakeReq(t, us5.APIURL()+"/api/v2/series", key, "")
		req.Body, req.ContentLength = nopBody(body), int64(len(body))
		req.Header.Set("Content-Encoding", encoding)
		return do(t, srv.Client(), req).status
	}
	z := []byte(base64.StdEncoding.EncodeToString([]byte(`{"series":[2]}`)))
	assert.Equal(t, http.StatusUnsupportedMediaType, send("zstd1", z), "no decoder")

	srv.DecodeZstd = func(r io.Reader) io.ReadCloser { return io.NopCloser(base64.NewDecoder(base64.StdEncoding, r)) }
	for _, tc := range []struct {
		name, encoding string
		body           []byte
		status         int
	}{
		{"zstd1", "zstd1", z, http.StatusAccepted},
		{"truncated", "zstd1", z[:len(z)/2+1], http.StatusBadRequest},
		{"not zstd", "zstd1", []byte("not zstd"), http.StatusBadRequest},
		{"unregistered name", "zstd", z, http.StatusUnsupportedMediaType},
	} {
		assert.Equal(t, tc.status, send(tc.encoding, tc.body), tc.name)
	}
	got := srv.Received(us5)
	require.Len(t, got, 1)
	assert.Equal(t, `{"series":[2]}`, string(got[0].Body))
}
