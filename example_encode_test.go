package ddoauth_test

import (
	"encoding/json"
	"fmt"
	"log"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
)

func ExampleMarshalConnection() {
	conn := &ddoauth.Connection{Site: ddoauth.Sites()[3], Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Token: &oauth2.Token{AccessToken: "AT-0123456789", RefreshToken: "RT-0123456789",
			Expiry: time.Date(2026, 1, 2, 4, 4, 5, 0, time.UTC)}}

	// What a store writes: the tokens included. Seal it at rest.
	stored, err := ddoauth.MarshalConnection(conn)
	if err != nil {
		log.Fatal(err)
	}
	back, err := ddoauth.UnmarshalConnection(stored)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.Token.RefreshToken == conn.Token.RefreshToken)

	// What logs and any other JSON see: no token.
	shown, _ := json.Marshal(map[string]any{"tenant-1": conn})
	fmt.Println(string(shown), strings.Contains(string(shown), "RT-"))
	// Output:
	// true
	// {"tenant-1":{"site":"datadoghq.eu","created":"2026-01-02T03:04:05Z","expiry":"2026-01-02T04:04:05Z"}} false
}
