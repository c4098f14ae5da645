package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
)

func TestRunEverySite(t *testing.T) {
	t.Parallel()
	for _, site := range ddoauth.Sites() {
		for _, arg := range []string{site.Name(), site.Domain(), "https://" + site.BrowserHost()} {
			t.Run(arg, func(t *testing.T) {
				t.Parallel()
				var out bytes.Buffer
				conn, err := run(context.Background(), []string{"-site", arg}, func(string) string { return "" }, &out)
				require.NoError(t, err, out.String())
				assert.Equal(t, site.Domain(), conn.Site.Domain())
				assert.Contains(t, out.String(), "https://"+site.BrowserHost()+"/oauth2/v1/authorize?")
				assert.Contains(t, out.String(), "site:    "+site.Name())
				assert.Contains(t, out.String(), "AccessToken:[redacted] RefreshToken:[redacted]")
				assert.NotContains(t, out.String(), conn.Token.AccessToken)
				assert.NotContains(t, out.String(), conn.Token.RefreshToken)
			})
		}
	}
}

func TestRunNoSite(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	conn, err := run(context.Background(), nil, func(string) string { return "" }, &out)
	require.NoError(t, err, out.String())
	assert.Equal(t, "US1", conn.Site.Name())
}

func TestRunRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want error
	}{
		{"unknown site", []string{"-site", "datadoghq.evil.example"}, nil, ddoauth.ErrUnknownSite},
		{"redirect not loopback", []string{"-redirect", "http://192.0.2.1:8765/callback"}, nil, nil},
		{"redirect https", []string{"-redirect", "https://127.0.0.1:8765/callback"}, nil, nil},
		{"live redirect without port", nil, map[string]string{"DD_CLIENT_ID": "id", "DD_CLIENT_SECRET": "s",
			"DD_REDIRECT_URL": "http://127.0.0.1/callback"}, nil},
		{"live redirect port 0", nil, map[string]string{"DD_CLIENT_ID": "id", "DD_CLIENT_SECRET": "s",
			"DD_REDIRECT_URL": "http://127.0.0.1:0/callback"}, nil},
		{"bad flag", []string{"-nope"}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			_, err := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &out)
			require.Error(t, err)
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			}
		})
	}
}
