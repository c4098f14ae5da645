// Package integration proves ddoauth and package datadogclient with the
// official Datadog client, github.com/DataDog/datadog-api-client-go/v2,
// against ddoauthtest for every site: data sent with a connection's API key
// arrives at that site's intakes; API calls with its bearer token keep
// working across an access-token expiry and a 401; one client serves every
// customer; credentials never show in the client's Debug dump and never
// leave the connection's site.
//
// It holds tests only, on datadogV1: the transport, the contexts and the
// sites are the same for datadogV2, which takes 3 minutes and about 7 GB to
// compile from a cold cache, against half a minute for datadogV1. The
// datadogv2 build tag (`make test-v2`) adds the v2 intakes, in every
// encoding datadogV2 offers.
package integration
