package stopper

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// sampleRequests are the requests the repository's sample events carry: each
// event of events/ and shared/trigger/testdata as it is, and the request
// inside it — an HTTP event's body, a timer's payload, a queue record's
// body or an SNS message — as the trigger hands it to DecodeRequest.
func sampleRequests(f *testing.F) [][]byte {
	var out [][]byte
	for _, pattern := range []string{"../../events/*.json", "../trigger/testdata/*.json"} {
		files, _ := filepath.Glob(pattern)
		if len(files) == 0 {
			f.Fatalf("no sample events in %s", pattern)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
			var ev struct {
				Body    *string `json:"body"`
				Payload *string `json:"payload"`
				Records []struct {
					Body *string `json:"body"`
					SNS  struct {
						Message *string `json:"Message"`
					} `json:"Sns"`
				} `json:"Records"`
			}
			if json.Unmarshal(b, &ev) != nil {
				continue
			}
			for _, s := range []*string{ev.Body, ev.Payload} {
				if s != nil {
					out = append(out, []byte(*s))
				}
			}
			for _, r := range ev.Records {
				for _, s := range []*string{r.Body, r.SNS.Message} {
					if s != nil {
						out = append(out, []byte(*s))
					}
				}
			}
		}
	}
	return out
}
