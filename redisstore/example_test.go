package redisstore_test

import (
	"encoding/base64"
	"log"
	"net/http"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/redisstore"
)

// A store for every replica, with the sealing key from the environment,
// used for connections and for the callback's used states. (Not run: it
// needs a Redis.)
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "localhost:6379",
		ContextTimeoutEnabled: true, // calls end by their context's deadline
	})
	defer rdb.Close()

	key, err := base64.StdEncoding.DecodeString(os.Getenv("DDOAUTH_STORE_KEY")) // 32 random bytes
	if err != nil {
		log.Fatal(err)
	}
	store, err := redisstore.New(rdb, redisstore.Config{Keys: [][]byte{key}})
	if err != nil {
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
