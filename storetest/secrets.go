package storetest

import (
	"fmt"
	"strings"
	"testing"
)

func testSecrets(t *testing.T, cfg Config) {
	s, ctx := open(t, cfg)
	conn := connection(t, 1)
	mustSave(t, ctx, s, "tenant-1", conn, "of a connection")
	key := apiKey(t, 1)
	if err := s.SaveAPIKey(ctx, "tenant-1", key); err != nil {
		t.Fatalf("SaveAPIKey: %v", err)
	}
	// Load too, in case the store caches what it reads.
	mustLoad(t, ctx, s, "tenant-1", "of the connection")
	if _, err := s.LoadAPIKey(ctx, "tenant-1"); err != nil {
		t.Fatalf("LoadAPIKey: %v", err)
	}
	secrets := []struct{ name, value string }{
		{"the access token", conn.Token.AccessToken},
		{"the refresh token", conn.Token.RefreshToken},
		{"the API key", key.Key},
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, s)
		for _, secret := range secrets {
			// Also as fmt shows a []byte holding it: in decimal, or in hex for %#v.
			for _, form := range []string{
				secret.value,
				strings.Trim(fmt.Sprint([]byte(secret.value)), "[]"),
				strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%#v", []byte(secret.value)), "[]byte{"), "}"),
			} {
				if strings.Contains(out, form) {
					t.Errorf("fmt %s of the store shows %s", verb, secret.name)
					break
				}
			}
		}
	}
}
