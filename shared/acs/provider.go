package acs

import "context"

// CredentialsProvider yields the credentials one API call is signed with.
// Static pairs answer at once; temporary credentials (STS) are fetched on
// first use, cached, and refreshed before they expire, so a provider may
// touch the network — never before its first call.
type CredentialsProvider interface {
	Credentials(ctx context.Context) (Credentials, error)
}

// Static returns a provider of one fixed pair: an AccessKey from the
// environment, or the role credentials Function Compute hands one
// invocation.
func Static(c Credentials) CredentialsProvider { return static{Pair: c} }

// static holds its pair in an exported field so that fmt, printing the
// provider, renders the pair through Credentials' own redacting methods.
type static struct{ Pair Credentials }

func (s static) Credentials(context.Context) (Credentials, error) { return s.Pair, nil }

// Invalidator is implemented by providers whose credentials can go stale
// before the provider knows it: a rotated AccessKey (the API answers
// InvalidAccessKeyId.NotFound) or STS credentials the API already considers
// expired. Invalidate tells the provider that the API refused c; the next
// Credentials call must not return c again. Invalidating credentials the
// provider no longer holds does nothing.
type Invalidator interface {
	Invalidate(c Credentials)
}
