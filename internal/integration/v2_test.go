//go:build datadogv2

package integration

import (
	"net/http"
	"testing"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/datadogclient"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// TestV2DataEverySite sends metrics and logs with datadogV2, in every
// encoding it offers, and finds them decoded at the connection's site, on
// the v2 intakes, sent with the API key only. The transport is the one
// datadogV1 goes through; what V2 adds is its intake paths and zstd1.
func TestV2DataEverySite(t *testing.T) {
	t.Parallel()
	for _, site := range everySite(t) {
		t.Run(site.Name(), func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			e.dd.DecodeZstd = decodeZstd
			d := site.Domain()
			key, err := e.client.CreateAPIKey(t.Context(), e.connect(t, site))
			require.NoError(t, err)
			ctx := datadogclient.IntakeContext(t.Context(), key)
			point := datadogV2.MetricPoint{Timestamp: datadog.PtrInt64(e.clock.Now().Unix()), Value: datadog.PtrFloat64(2)}
			payload := *datadogV2.NewMetricPayload([]datadogV2.MetricSeries{*datadogV2.NewMetricSeries("partner.v2", []datadogV2.MetricPoint{point})})
			metrics, logs := datadogV2.NewMetricsApi(e.api), datadogV2.NewLogsApi(e.api)

			for _, enc := range metricEncodings {
				_, resp, err := metrics.SubmitMetrics(ctx, payload, *datadogV2.NewSubmitMetricsOptionalParameters().WithContentEncoding(enc))
				require.NoError(t, err, enc)
				assert.Equal(t, http.StatusAccepted, resp.StatusCode)
			}
			logEncodings := new(datadogV2.ContentEncoding).GetAllowedValues()
			for _, enc := range logEncodings {
				_, resp, err := logs.SubmitLog(ctx, []datadogV2.HTTPLogItem{*datadogV2.NewHTTPLogItem(string(enc))},
					*datadogV2.NewSubmitLogOptionalParameters().WithContentEncoding(enc))
				require.NoError(t, err, enc)
				assert.Equal(t, http.StatusAccepted, resp.StatusCode)
			}

			got := e.dd.Received(site)
			m := len(metricEncodings)
			require.Len(t, got, m+len(logEncodings))
			assert.Len(t, e.dd.Received(ddoauth.Site{}), len(got), "another site received data")
			for _, sub := range got[:m] {
				assert.Equal(t, ddoauthtest.EndpointSeries, sub.Endpoint)
				assert.Contains(t, string(sub.Body), `"metric":"partner.v2"`)
			}
			for i, enc := range logEncodings {
				assert.Equal(t, ddoauthtest.EndpointLogs, got[m+i].Endpoint)
				assert.JSONEq(t, `[{"message":"`+string(enc)+`"}]`, string(got[m+i].Body))
			}
			var sent, want []string
			for _, enc := range metricEncodings {
				want = append(want, string(enc))
			}
			for _, enc := range logEncodings {
				want = append(want, string(enc))
			}
			for _, r := range e.dd.Requests() {
				switch r.Endpoint {
				case ddoauthtest.EndpointSeries:
					assert.Equal(t, "api."+d+"/api/v2/series", r.Host+r.Path)
				case ddoauthtest.EndpointLogs:
					assert.Equal(t, "http-intake.logs."+d+"/api/v2/logs", r.Host+r.Path)
				default:
					continue
				}
				assert.Equal(t, []string{ddoauthtest.Fingerprint(key.Key)}, r.Header["Dd-Api-Key"])
				assert.Empty(t, r.Header.Get("Authorization"), "data is sent with the API key only")
				sent = append(sent, r.Header.Get("Content-Encoding"))
			}
			assert.Equal(t, want, sent)
		})
	}
}
