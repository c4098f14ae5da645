// Package integration proves ddoauth and package datadogclient with the
// official Datadog client, github.com/DataDog/datadog-api-client-go/v2,
// against ddoauthtest for every site: data sent with a connection's API key
// arrives at that site's intakes; API calls with its bearer token keep
// working across an access-token expiry and a 401; one client serves every
// customer; credentials never show in the client's Debug dump and never
// leave the connection's site.
//
// It holds tests only. They import the client's generated packages
// (datadogV1, datadogV2), which take minutes and gigabytes to compile from
// a cold cache, so no other package of the module imports them.
package integration
