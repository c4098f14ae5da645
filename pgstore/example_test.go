package pgstore_test

import (
	"context"
	"encoding/base64"
	"log"
	"net/http"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/pgstore"
)

// A store for every replica, with the sealing key from the environment,
// used for connections and for the callback's used states. (Not run: it
// needs a Postgres.)
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	key, err := base64.StdEncoding.DecodeString(os.Getenv("DDOAUTH_STORE_KEY")) // 32 random bytes
	if err != nil {
		log.Fatal(err)
	}
	store, err := pgstore.New(pool, pgstore.Config{Keys: [][]byte{key}})
	if err != nil {
		log.Fatal(err)
	}
	// Or apply pgstore.Schema with the partner's own migrations.
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	client, err := ddoauth.New(ddoauth.Config{
		ClientID:     os.Getenv("DATADOG_CLIENT_ID"),
		ClientSecret: os.Getenv("DATADOG_CLIENT_SECRET"),
		RedirectURL:  "https://partner.example/oauth/datadog/callback",
	})
	if err != nil {
		log.Fatal(err)
	}
	// Callbacks are completed once across replicas.
	_, err = client.Handlers(ddoauth.HandlerConfig{
		CookieKeys: [][]byte{key}, // or a key of their own
		Session: func(r *http.Request) (string, error) {
			ck, err := r.Cookie("session") // the partner's signed-in session
			if err != nil {
				return "", err
			}
			return ck.Value, nil
		},
		UsedStates: store,
		OnConnect: func(r *http.Request, conn *ddoauth.Connection) error {
			return store.Save(r.Context(), "customer-42", conn) // the signed-in customer's ID
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Refreshes are shared across replicas through the store's leases.
	ts := client.TokenSource(store, "customer-42")
	_ = ts
}
