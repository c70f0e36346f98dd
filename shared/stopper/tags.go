package stopper

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// Invocation tags the function reads. Whoever starts a command sets them
// (RunCommand and InvokeCommand take Tags), so the owner of a long job can
// say "leave this alone", "this may run 6 h" or "give up after 3 failures".
const (
	// TagProtect: with any value but "false", no sweep and no fail-fast
	// ever stops the invocation; an explicit stop naming it still does.
	TagProtect = "stopper:protect"
	// TagTTL: a Go duration, the invocation's own stale age, used by sweeps
	// instead of OlderThan (shorter or longer).
	TagTTL = "stopper:ttl"
	// TagMaxErrors: a count ("3") or a share ("10%") of the invocation's
	// instances; once that many have failed, fail-fast stops the rest.
	TagMaxErrors = "stopper:max-errors"
)

// CodeInvalidTag reports an owner tag whose value cannot be read: the
// invocation is left alone rather than judged by a guess.
const CodeInvalidTag = "InvalidTag"

// ownerTags are the owner tags of one invocation, read once.
type ownerTags struct {
	protect bool
	ttl     time.Duration // 0: no stopper:ttl
	// maxErrors is the stopper:max-errors threshold; zero when untagged.
	maxErrors Threshold
	// ttlErr and maxErrorsErr report a tag whose value does not parse.
	ttlErr, maxErrorsErr *Error
}

func readOwnerTags(tags []cloudassistant.Tag) ownerTags {
	var o ownerTags
	for _, t := range tags {
		switch t.TagKey {
		case TagProtect:
			o.protect = !strings.EqualFold(strings.TrimSpace(t.TagValue), "false")
		case TagTTL:
			d, err := time.ParseDuration(strings.TrimSpace(t.TagValue))
			if err != nil || d <= 0 {
				o.ttlErr = badTag(TagTTL, t.TagValue, "a positive Go duration such as 45m or 6h")
				continue
			}
			o.ttl = d
		case TagMaxErrors:
			th, err := ParseThreshold(t.TagValue)
			if err != nil {
				o.maxErrorsErr = badTag(TagMaxErrors, t.TagValue, "a count such as 3 or a share such as 10%")
				continue
			}
			o.maxErrors = th
		}
	}
	return o
}

func badTag(key, value, want string) *Error {
	return &Error{Code: CodeInvalidTag, Status: http.StatusBadRequest,
		Message: "tag " + key + "=" + strconv.Quote(truncate(value)) + " is not " + want +
			": the invocation was left alone; fix the tag, or stop the invocation explicitly"}
}

// Threshold is a fail-fast limit: a count of failed instances, or a share
// of the invocation's instances. The zero Threshold is unset.
type Threshold struct {
	Count   int     // at least 1, or 0 when Percent is used
	Percent float64 // in (0, 100], or 0 when Count is used
}

// IsZero reports whether the threshold is unset.
func (t Threshold) IsZero() bool { return t.Count == 0 && t.Percent == 0 }

// String is the threshold as it is written: "3" or "10%".
func (t Threshold) String() string {
	if t.Percent > 0 {
		return strconv.FormatFloat(t.Percent, 'f', -1, 64) + "%"
	}
	if t.Count > 0 {
		return strconv.Itoa(t.Count)
	}
	return ""
}

// Limit is the number of failed instances, out of instances, that reaches
// the threshold: a share is rounded up and is at least 1.
func (t Threshold) Limit(instances int) int {
	if t.Percent > 0 {
		n := int(t.Percent * float64(instances) / 100)
		if float64(n)*100 < t.Percent*float64(instances) {
			n++
		}
		return max(n, 1)
	}
	return t.Count
}

// ParseThreshold reads "3" (at least 1) or "10%" (more than 0, at most 100).
func ParseThreshold(s string) (Threshold, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(v > 0 && v <= 100) {
			return Threshold{}, Invalid("max-errors", "%q is not a share such as 10%% (more than 0%%, at most 100%%)", truncate(s))
		}
		return Threshold{Percent: v}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return Threshold{}, Invalid("max-errors", "%q is not a count of at least 1 such as 3, nor a share such as 10%%", truncate(s))
	}
	return Threshold{Count: n}, nil
}
