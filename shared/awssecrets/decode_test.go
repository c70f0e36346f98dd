package awssecrets

import (
	"testing"
)

// FuzzDecode feeds any answer to the decoder: it never panics, accepts only
// the expected shape, and never puts what it read into an error.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"Name":"x","SecretString":"{\"AccessKeyId\":\"LTAI5t\",\"AccessKeySecret\":\"s3cr3t\"}"}`))
	f.Add([]byte(`{"SecretString":"{\"AccessKeyId\":\"a\",\"AccessKeySecret\":\"b\",\"X\":1}"}`))
	f.Add([]byte(`{"SecretString":null}`))
	f.Add([]byte(`{"SecretString":"[\"s3cr3t\"]"}`))
	f.Add([]byte(`not json s3cr3t`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := decode(body)
		if err != nil {
			// Fixed texts only: nothing read from the answer.
			switch err.Error() {
			case errShape.Error(), errNotJSON.Error(), errNoString.Error():
			default:
				t.Fatalf("unexpected error %q", err)
			}
			return
		}
		if !wellFormed(c.AccessKeyID) || !wellFormed(c.AccessKeySecret) || c.SecurityToken != "" {
			t.Fatalf("accepted %q as %#v", body, c)
		}
	})
}
