package stopper

import (
	"testing"

	"github.com/ecs-stopper/stopper/internal/testenv"
)

// sampleRequests are the requests the repository's sample events carry: each
// event as it is, and the request inside it as the trigger hands it to
// DecodeRequest.
func sampleRequests(f *testing.F) [][]byte {
	var out [][]byte
	for _, ev := range testenv.SampleEvents(f) {
		out = append(out, ev)
		out = append(out, testenv.CarriedRequests(ev)...)
	}
	return out
}
